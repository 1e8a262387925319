package kv

import (
	"context"
	"errors"
	"fmt"
	"github.com/raftpipe/raftpipe/fsm"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// fill writes n keys into m, with values tagged by tag.
func fill(t *testing.T, m *Machine, n int, tag string) {
	t.Helper()
	cmds := make([][]byte, n)
	for i := range cmds {
		cmds[i] = EncodePut(nil, fmt.Appendf(nil, "k%05d", i), fmt.Appendf(nil, "%s-%d", tag, i))
	}
	apply(t, m, cmds...)
}

func scanAll(t *testing.T, m *Machine) []KeyValue {
	t.Helper()
	res, err := m.Lookup(EncodeScan(nil, nil, nil, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	pairs, _, err := DecodeScanResult(res)
	if err != nil {
		t.Fatal(err)
	}
	return pairs
}

// A snapshot of one group, written as SST files and installed into another
// store, replaces that group's state there whole (keys it had that the
// snapshot lacks are gone) and its applied index, and touches no other
// group.
func TestSnapshotInstallReplacesTheGroup(t *testing.T) {
	fs := vfs.NewMem()
	src := openStore(t, fs)
	a := machine(t, src, 5)
	fill(t, a, 2000, "new")
	source, err := a.prepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	fill(t, a, 10, "after") // not in the snapshot
	man, err := source.write("snap", 16<<10)
	source.Close()
	if err != nil {
		t.Fatal(err)
	}
	if man.Index != 2000 || len(man.Files) < 2 {
		t.Fatalf("manifest %+v: want index 2000 and the span cut into several files", man)
	}

	dfs := vfs.NewMem()
	dst, err := Open(Options{Dir: "db", FS: dfs, Logger: src.popts.Logger.(pebbleLogger).l})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	b := machine(t, dst, 5)
	other := machine(t, dst, 6)
	apply(t, b, EncodePut(nil, []byte("stale"), []byte("x")), EncodePut(nil, []byte("k00001"), []byte("old")))
	apply(t, other, EncodePut(nil, []byte("k00001"), []byte("other")))
	copyFiles(t, fs, dfs, "snap", man)
	if err := dst.Install(context.Background(), "snap", man); err != nil {
		t.Fatal(err)
	}
	got := scanAll(t, b)
	if len(got) != 2000 || string(got[1].Value) != "new-1" {
		t.Fatalf("after install: %d keys, k00001=%q; want the snapshot's 2000", len(got), got[1].Value)
	}
	if _, ok := get(t, b, "stale"); ok {
		t.Fatal("a key the snapshot does not hold survived the install")
	}
	if b.Applied() != man.Index {
		t.Fatalf("applied %d, want the snapshot's %d", b.Applied(), man.Index)
	}
	if v, _ := get(t, other, "k00001"); v != "other" {
		t.Fatalf("another group changed: %q", v)
	}
	apply(t, b, EncodePut(nil, []byte("next"), []byte("1"))) // entries after the snapshot follow
	if b.Applied() != man.Index+1 {
		t.Fatalf("applied %d after the next entry", b.Applied())
	}
}

// A truncated or corrupted snapshot file is refused with an error naming
// it, and the group keeps its state.
func TestSnapshotInstallRefusesDamage(t *testing.T) {
	fs, man := snapshotOfNew(t, 500, "v", 4<<10)
	for name, damage := range map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)-10] },
		"bit flip":  func(b []byte) []byte { c := append([]byte(nil), b...); c[len(c)/2] ^= 0x10; return c },
	} {
		t.Run(name, func(t *testing.T) {
			dfs := vfs.NewMem()
			dst, err := Open(memOptions(dfs))
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			b := machine(t, dst, 1)
			apply(t, b, EncodePut(nil, []byte("mine"), []byte("kept")))
			copyFiles(t, fs, dfs, "snap", man)
			victim := man.Files[len(man.Files)-1].Name
			data := readFile(t, dfs, "snap/"+victim)
			writeFile(t, dfs, "snap/"+victim, damage(data))
			err = dst.Install(context.Background(), "snap", man)
			if !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), victim) {
				t.Fatalf("install of a damaged snapshot: %v, want ErrCorruptSnapshot naming %s", err, victim)
			}
			if v, _ := get(t, b, "mine"); v != "kept" || b.Applied() != 1 {
				t.Fatalf("the old state changed: mine=%q applied %d", v, b.Applied())
			}
		})
	}
}

func copyFiles(t *testing.T, from, to vfs.FS, dir string, man fsm.SnapshotManifest) {
	t.Helper()
	if err := to.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range man.Files {
		writeFile(t, to, dir+"/"+f.Name, readFile(t, from, dir+"/"+f.Name))
	}
}

func readFile(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, fs vfs.FS, path string, b []byte) {
	t.Helper()
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// An install is durable once it returns: a crash right after it keeps the
// snapshot's state and applied index (Pebble's WAL is off, so nothing
// rides on it: the ingest's own manifest edit is what makes it stick).
func TestSnapshotInstallSurvivesCrash(t *testing.T) {
	fs, man := snapshotOfNew(t, 300, "snap", 64<<10)
	dfs := vfs.NewCrashableMem()
	dst, err := Open(memOptions(dfs))
	if err != nil {
		t.Fatal(err)
	}
	b := machine(t, dst, 1)
	apply(t, b, EncodePut(nil, []byte("old"), []byte("x")))
	if err := dst.Flush(); err != nil {
		t.Fatal(err)
	}
	copyFiles(t, fs, dfs, "snap", man) // written, not synced: Install syncs them
	if err := dst.Install(context.Background(), "snap", man); err != nil {
		t.Fatal(err)
	}
	crashed := dfs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	dst.Close()
	after := openStore(t, crashed)
	m := machine(t, after, 1)
	if m.Applied() != man.Index || len(scanAll(t, m)) != 300 {
		t.Fatalf("after a crash: applied %d with %d keys, want the snapshot's %d with 300", m.Applied(), len(scanAll(t, m)), man.Index)
	}
}

// Through the fsm contract: a machine restores a snapshot of its own group
// and refuses another group's.
func TestMachineIsASnapshotter(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open(Options{Dir: "db", FS: fs, Logger: memOptions(fs).Logger, SnapshotFileBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b := machine(t, s, 1), machine(t, s, 2)
	fill(t, a, 100, "a")
	var sn fsm.Snapshotter = a
	src, err := sn.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	man, err := src.Write("snap")
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RecoverFromSnapshot("snap", man); !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), "group 1 given to group 2") {
		t.Fatalf("another group's snapshot: %v", err)
	}
	fill(t, a, 5, "later")
	if err := a.RecoverFromSnapshot("snap", man); err != nil {
		t.Fatal(err)
	}
	if v, _ := get(t, a, "k00000"); a.Applied() != man.Index || v != "a-0" {
		t.Fatalf("applied %d, k00000=%q: want the snapshot's %d and a-0", a.Applied(), v, man.Index)
	}
}

// snapshotOfNew fills group 1 of a new in-memory store with n keys and
// writes its snapshot into "snap", cut at fileBytes; it returns the
// store's file system and the manifest.
func snapshotOfNew(t *testing.T, n int, tag string, fileBytes int64) (vfs.FS, fsm.SnapshotManifest) {
	t.Helper()
	fs := vfs.NewMem()
	a := machine(t, openStore(t, fs), 1)
	fill(t, a, n, tag)
	source, err := a.prepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close()
	man, err := source.write("snap", fileBytes)
	if err != nil {
		t.Fatal(err)
	}
	return fs, man
}
