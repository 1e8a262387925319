package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// memOp is one step of a crash scenario.
type memOp func(t *testing.T, m *MemFS)

func opMkdir(dir string) memOp {
	return func(t *testing.T, m *MemFS) { must(t, m.MkdirAll(dir)) }
}

// write creates name if needed and writes data at off.
func opWrite(name string, off int64, data string) memOp {
	return func(t *testing.T, m *MemFS) {
		f, err := m.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			f, err = m.Create(name)
		}
		must(t, err)
		defer f.Close()
		_, err = f.WriteAt([]byte(data), off)
		must(t, err)
	}
}

func fileOp(name string, do func(File) error) memOp {
	return func(t *testing.T, m *MemFS) {
		f, err := m.Open(name)
		must(t, err)
		defer f.Close()
		must(t, do(f))
	}
}

func opSync(name string) memOp { return fileOp(name, File.Sync) }

func opTruncate(name string, size int64) memOp {
	return fileOp(name, func(f File) error { return f.Truncate(size) })
}

func opPreallocate(name string, size int64) memOp {
	return fileOp(name, func(f File) error { return f.Preallocate(size) })
}

func opSyncDir(dir string) memOp {
	return func(t *testing.T, m *MemFS) { must(t, m.SyncDir(dir)) }
}

func opRename(a, b string) memOp {
	return func(t *testing.T, m *MemFS) { must(t, m.Rename(a, b)) }
}

func opRemove(name string) memOp {
	return func(t *testing.T, m *MemFS) { must(t, m.Remove(name)) }
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot returns every file under dir (one level) and its bytes.
func snapshot(t *testing.T, m *MemFS, dir string) map[string]string {
	t.Helper()
	names, err := m.List(dir)
	must(t, err)
	files := map[string]string{}
	for _, n := range names {
		if b, err := m.ReadFile(dir + "/" + n); err == nil {
			files[n] = string(b)
		}
	}
	return files
}

func TestMemCrash(t *testing.T) {
	// Every scenario starts with /db made; "durable a" has /db/a holding
	// "old", synced and with its name synced.
	durableA := []memOp{opWrite("/db/a", 0, "old"), opSync("/db/a"), opSyncDir("/db")}
	then := func(ops ...memOp) []memOp { return slices.Concat(durableA, ops) }
	tests := []struct {
		name string
		ops  []memOp
		want map[string]string // /db after the crash
	}{
		{"nothing synced", []memOp{opWrite("/db/a", 0, "x")}, map[string]string{}},
		{"unsynced data lost", then(opWrite("/db/a", 3, "new")), map[string]string{"a": "old"}},
		{"unsynced overwrite lost", then(opWrite("/db/a", 0, "NEW")), map[string]string{"a": "old"}},
		{"synced data kept", then(opWrite("/db/a", 3, "new"), opSync("/db/a")), map[string]string{"a": "oldnew"}},
		{"data synced, dir not", []memOp{opWrite("/db/a", 0, "x"), opSync("/db/a")}, map[string]string{}},
		{"dir synced, data not", []memOp{opWrite("/db/a", 0, "x"), opSyncDir("/db")}, map[string]string{"a": ""}},
		{"remove undone", then(opRemove("/db/a")), map[string]string{"a": "old"}},
		{"remove kept", then(opRemove("/db/a"), opSyncDir("/db")), map[string]string{}},
		{"rename undone", then(opRename("/db/a", "/db/b")), map[string]string{"a": "old"}},
		{"rename kept", then(opRename("/db/a", "/db/b"), opSyncDir("/db")), map[string]string{"b": "old"}},
		{"rename over undone", then(opWrite("/db/b", 0, "B"), opSync("/db/b"), opSyncDir("/db"), opRename("/db/a", "/db/b")),
			map[string]string{"a": "old", "b": "B"}},
		{"truncate undone", then(opTruncate("/db/a", 1)), map[string]string{"a": "old"}},
		{"truncate kept", then(opTruncate("/db/a", 1), opSync("/db/a")), map[string]string{"a": "o"}},
		{"preallocate kept", then(opPreallocate("/db/a", 5), opSync("/db/a")), map[string]string{"a": "old\x00\x00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMem()
			must(t, m.MkdirAll("/db"))
			for _, op := range tc.ops {
				op(t, m)
			}
			c := m.Crash()
			if got := snapshot(t, c, "/db"); !equalMaps(got, tc.want) {
				t.Fatalf("after crash /db holds %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMemMkdirAllDurable checks that directories survive a crash without
// SyncDir, as MkdirAll promises.
func TestMemMkdirAllDurable(t *testing.T) {
	m := NewMem()
	must(t, m.MkdirAll("/db/sub/x"))
	c := m.Crash()
	for _, dir := range []string{"/db", "/db/sub", "/db/sub/x"} {
		if _, err := c.List(dir); err != nil {
			t.Fatalf("directory lost in crash: %v", err)
		}
	}
	if names, _ := c.List("/db"); !slices.Equal(names, []string{"sub"}) {
		t.Fatalf("/db lists %q after crash, want [sub]", names)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// TestMemCrashIndependent checks that a crashed MemFS shares nothing with
// the old one, and drops its locks.
func TestMemCrashIndependent(t *testing.T) {
	m := NewMem()
	for _, op := range []memOp{opMkdir("/db"), opWrite("/db/a", 0, "old"), opSync("/db/a"), opSyncDir("/db")} {
		op(t, m)
	}
	l, err := m.Lock("/db/LOCK")
	must(t, err)
	defer l.Close()
	f, err := m.Open("/db/a")
	must(t, err)
	defer f.Close()

	c := m.Crash()
	_, err = f.WriteAt([]byte("NEW"), 0)
	must(t, err)
	must(t, f.Sync())
	if got, _ := c.ReadFile("/db/a"); string(got) != "old" {
		t.Fatalf("write to the old MemFS reached the crashed one: %q", got)
	}
	if got, _ := m.ReadFile("/db/a"); string(got) != "NEW" {
		t.Fatalf("old MemFS stopped working: %q", got)
	}
	l2, err := c.Lock("/db/LOCK")
	if err != nil {
		t.Fatalf("lock carried over the crash: %v", err)
	}
	l2.Close()
}

func TestMemCrashTorn(t *testing.T) {
	m := NewMem()
	const synced = "0123456789"
	for _, op := range []memOp{
		opMkdir("/db"), opWrite("/db/a", 0, synced), opSync("/db/a"),
		opWrite("/db/b", 0, "bbbb"), opSync("/db/b"), opSyncDir("/db"),
		opWrite("/db/a", 4, "ABCDEFGHIJKL"), // differs from offset 4, grows to 16
		opWrite("/db/b", 4, "BBBB"),
		opWrite("/db/unnamed", 0, "x"), opSync("/db/unnamed"), // name never synced
	} {
		op(t, m)
	}
	cur, err := m.ReadFile("/db/a")
	must(t, err)
	const d = 4
	cuts := map[int]bool{}
	for seed := range uint64(500) {
		c := m.CrashTorn(rand.New(rand.NewPCG(seed, 0)))
		got, err := c.ReadFile("/db/a")
		must(t, err)
		cut := tornCut(cur, []byte(synced), got)
		if cut < d {
			t.Fatalf("seed=%d: /db/a = %q is not current[:cut]+synced[cut:] for any cut >= %d", seed, got, d)
		}
		cuts[cut] = true
		if _, err := c.ReadFile("/db/unnamed"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("seed=%d: file whose name was never synced survived: %v", seed, err)
		}
		again, _ := m.CrashTorn(rand.New(rand.NewPCG(seed, 0))).ReadFile("/db/a")
		if !bytes.Equal(got, again) {
			t.Fatalf("seed=%d: CrashTorn not deterministic: %q then %q", seed, got, again)
		}
	}
	if !cuts[d] || !cuts[len(cur)] {
		t.Fatalf("cuts seen %v: want both extremes %d and %d", slices.Sorted(maps.Keys(cuts)), d, len(cur))
	}
}

// tornCut returns the largest cut for which got == cur[:cut]+synced[cut:],
// or -1. Cuts below the first difference all give synced; the largest is
// the one CrashTorn picked.
func tornCut(cur, synced, got []byte) int {
	for cut := len(cur); cut >= 0; cut-- {
		want := slices.Clone(cur[:cut])
		if len(synced) > cut {
			want = append(want, synced[cut:]...)
		}
		if bytes.Equal(want, got) {
			return cut
		}
	}
	return -1
}

func TestFailNth(t *testing.T) {
	m := NewMem()
	must(t, m.MkdirAll("/db"))
	f, err := m.Create("/db/a")
	must(t, err)
	m.SetInjector(FailNth(OpWrite, 2, nil))
	for i, s := range []string{"a", "b", "c"} {
		_, err := f.WriteAt([]byte(s), int64(i))
		if i != 1 {
			must(t, err)
			continue
		}
		var pe *fs.PathError
		if !errors.Is(err, ErrInjected) || !errors.As(err, &pe) || pe.Op != "write" || pe.Path != "/db/a" {
			t.Fatalf("second write: %v, want an injected write error on /db/a", err)
		}
	}
	if got, _ := m.ReadFile("/db/a"); string(got) != "a\x00c" {
		t.Fatalf("contents %q: the failed write had an effect", got)
	}

	// A failed Sync does not sync; a failed Rename does not rename.
	boom := errors.New("boom")
	m.SetInjector(FailNth(OpSync, 1, boom))
	if err := f.Sync(); !errors.Is(err, boom) {
		t.Fatalf("sync: %v, want boom", err)
	}
	must(t, m.SyncDir("/db"))
	if got, _ := m.Crash().ReadFile("/db/a"); len(got) != 0 {
		t.Fatalf("failed sync made %q durable", got)
	}
	m.SetInjector(FailNth(OpRename, 1, nil))
	if err := m.Rename("/db/a", "/db/b"); !errors.Is(err, ErrInjected) {
		t.Fatalf("rename: %v, want ErrInjected", err)
	}
	if names, _ := m.List("/db"); !slices.Equal(names, []string{"a"}) {
		t.Fatalf("after failed rename /db holds %q", names)
	}
	m.SetInjector(nil)
	must(t, m.Rename("/db/a", "/db/b"))
}

func TestFailNthConcurrent(t *testing.T) {
	inject := FailNth(OpWrite, 50, nil)
	var mu sync.Mutex
	failures := 0
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			inject(OpSync, "x") // other ops do not count
			if inject(OpWrite, "x") != nil {
				mu.Lock()
				failures++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failures != 1 {
		t.Fatalf("%d failures, want exactly 1", failures)
	}
}

func TestFailMatching(t *testing.T) {
	m := NewMem()
	must(t, m.MkdirAll("/db"))
	m.SetInjector(FailMatching(OpCreate, ".tmp", nil))
	for i := range 3 {
		if _, err := m.Create(fmt.Sprintf("/db/%d.tmp", i)); !errors.Is(err, ErrInjected) {
			t.Fatalf("create %d.tmp: %v, want ErrInjected", i, err)
		}
	}
	_, err := m.Create("/db/log")
	must(t, err)
	if names, _ := m.List("/db"); !slices.Equal(names, []string{"log"}) {
		t.Fatalf("/db holds %q, want only log", names)
	}
}

func TestCapacity(t *testing.T) {
	m := NewMem()
	must(t, m.MkdirAll("/db"))
	m.SetCapacity(100)
	a, err := m.Create("/db/a")
	must(t, err)
	b, err := m.Create("/db/b")
	must(t, err)
	_, err = a.WriteAt(make([]byte, 60), 0)
	must(t, err)

	enospc := []struct {
		name string
		do   func() error
	}{
		{"write", func() error { _, err := b.WriteAt([]byte("x"), 40); return err }},
		{"preallocate", func() error { return b.Preallocate(41) }},
		{"truncate", func() error { return a.Truncate(101) }},
	}
	for _, c := range enospc {
		if err := c.do(); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%s beyond capacity: %v, want ENOSPC", c.name, err)
		}
	}
	if sa, _ := a.Size(); sa != 60 {
		t.Fatalf("a has %d bytes after failed growth, want 60", sa)
	}
	if sb, _ := b.Size(); sb != 0 {
		t.Fatalf("b has %d bytes after failed growth, want 0", sb)
	}

	_, err = a.WriteAt(make([]byte, 10), 60) // growth, not size, counts: 70 of 100
	must(t, err)
	must(t, b.Preallocate(30)) // exactly full
	for off := int64(0); off < 30; off += 10 {
		if _, err := b.WriteAt(make([]byte, 10), off); err != nil {
			t.Fatalf("write below the preallocated size: %v", err)
		}
	}
	m.SetCapacity(0)
	_, err = b.WriteAt([]byte("x"), 1000)
	must(t, err)
}

func TestWriteFileReadFile(t *testing.T) {
	m := NewMem()
	data := []byte("seeded")
	must(t, m.WriteFile("/db/x/seg", data))
	data[0] = 'S' // WriteFile copied
	got, err := m.Crash().ReadFile("/db/x/seg")
	must(t, err)
	if string(got) != "seeded" {
		t.Fatalf("WriteFile was not durable: %q", got)
	}
	got[0] = 'S' // ReadFile copied
	if again, _ := m.ReadFile("/db/x/seg"); string(again) != "seeded" {
		t.Fatalf("ReadFile returned shared bytes: %q", again)
	}
	if _, err := m.ReadFile("/db/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile missing: %v", err)
	}
}
