package fsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A MemKV snapshot restores the whole state as of its index, into a
// machine that held something else; later updates on the source are not
// in it.
func TestMemKVSnapshotRoundTrip(t *testing.T) {
	src := NewMemKV()
	var ents []Entry
	for i := range 100 {
		ents = append(ents, Entry{Index: uint64(i + 1), Cmd: EncodePut(nil, fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "v%d", i))})
	}
	if err := src.Update(ents); err != nil {
		t.Fatal(err)
	}
	s, err := src.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Update([]Entry{{Index: 101, Cmd: EncodePut(nil, []byte("late"), []byte("x"))}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	man, err := s.Write(dir)
	s.Close()
	if err != nil || man.Index != 100 {
		t.Fatalf("write: %+v, %v", man, err)
	}
	dst := NewMemKV()
	dst.Update([]Entry{{Index: 1, Cmd: EncodePut(nil, []byte("mine"), []byte("y"))}})
	if err := dst.RecoverFromSnapshot(dir, man); err != nil {
		t.Fatal(err)
	}
	if v, err := dst.Lookup([]byte("k42")); err != nil || string(v) != "v42" {
		t.Fatalf("k42 = %q, %v", v, err)
	}
	for _, k := range []string{"mine", "late"} {
		if _, err := dst.Lookup([]byte(k)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s survived or leaked into the restore: %v", k, err)
		}
	}
	if dst.Applied() != 100 || dst.Len() != 100 {
		t.Fatalf("applied %d, %d keys", dst.Applied(), dst.Len())
	}
}

// A damaged snapshot file is refused, named, and the state kept.
func TestMemKVSnapshotRefusesDamage(t *testing.T) {
	src := NewMemKV()
	src.Update([]Entry{{Index: 1, Cmd: EncodePut(nil, []byte("a"), []byte("1"))}})
	s, _ := src.PrepareSnapshot()
	dir := t.TempDir()
	man, err := s.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, memKVSnapshotFile)
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 1
	os.WriteFile(path, b, 0o644)
	dst := NewMemKV()
	dst.Update([]Entry{{Index: 1, Cmd: EncodePut(nil, []byte("mine"), []byte("kept"))}})
	err = dst.RecoverFromSnapshot(dir, man)
	if !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), memKVSnapshotFile) {
		t.Fatalf("damaged snapshot: %v", err)
	}
	if v, _ := dst.Lookup([]byte("mine")); string(v) != "kept" || dst.Applied() != 1 {
		t.Fatal("the state changed on a refused snapshot")
	}
}
