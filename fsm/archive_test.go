package fsm

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// memKVSnapshot writes a MemKV snapshot of n keys into a temporary folder.
func memKVSnapshot(t *testing.T, n int) (string, SnapshotManifest) {
	t.Helper()
	m := NewMemKV()
	var ents []Entry
	for i := range n {
		ents = append(ents, Entry{Index: uint64(i + 1), Cmd: EncodePut(nil, fmt.Appendf(nil, "key-%d", i), bytes.Repeat([]byte{byte(i)}, 100))})
	}
	if err := m.Update(ents); err != nil {
		t.Fatal(err)
	}
	src, _ := m.PrepareSnapshot()
	defer src.Close()
	dir := t.TempDir()
	man, err := src.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, man
}

// The archive read through ArchiveReader, from any offset in any piece
// size, is the archive WriteArchive writes, and it extracts to the files.
func TestArchiveReaderMatchesWriteArchive(t *testing.T) {
	dir, man := memKVSnapshot(t, 500)
	var want bytes.Buffer
	if err := WriteArchive(&want, vfs.Default, dir, man); err != nil {
		t.Fatal(err)
	}
	a, err := OpenArchive(vfs.Default, dir, man)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Size() != int64(want.Len()) || a.Size() != ArchiveBytes(man) {
		t.Fatalf("size %d, WriteArchive wrote %d, ArchiveBytes says %d", a.Size(), want.Len(), ArchiveBytes(man))
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		off := rng.Int64N(a.Size())
		p := make([]byte, rng.IntN(8192)+1)
		n, err := a.ReadAt(p, off)
		end := min(off+int64(len(p)), a.Size())
		if n != int(end-off) || (err != nil && err != io.EOF) || !bytes.Equal(p[:n], want.Bytes()[off:end]) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v: not the archive's bytes", len(p), off, n, err)
		}
	}
	got, err := ExtractArchive(io.NewSectionReader(a, 0, a.Size()), vfs.Default, t.TempDir())
	if err != nil || got.Index != man.Index {
		t.Fatalf("extract: %+v, %v", got, err)
	}
}
