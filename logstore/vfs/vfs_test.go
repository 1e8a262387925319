package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fsCase is an FS under test and a directory in it to work in.
type fsCase struct {
	name  string
	setup func(t *testing.T) (FS, string)
}

var fsCases = []fsCase{
	{"os", func(t *testing.T) (FS, string) { return Default, t.TempDir() }},
	{"mem", func(t *testing.T) (FS, string) {
		m := NewMem()
		if err := m.MkdirAll("/db"); err != nil {
			t.Fatal(err)
		}
		return m, "/db"
	}},
}

// TestConformance runs the same checks against the operating system and
// MemFS, so that a test passing on MemFS says something about production.
func TestConformance(t *testing.T) {
	checks := []struct {
		name string
		run  func(t *testing.T, fsys FS, dir string)
	}{
		{"write read sync reopen", testWriteRead},
		{"preallocate", testPreallocate},
		{"truncate", testTruncate},
		{"rename", testRename},
		{"remove", testRemove},
		{"list", testList},
		{"lock", testLock},
		{"not exist and exist", testExistence},
		{"closed", testClosed},
		{"concurrent writes", testConcurrent},
	}
	for _, fc := range fsCases {
		for _, c := range checks {
			t.Run(fc.name+"/"+c.name, func(t *testing.T) {
				fsys, dir := fc.setup(t)
				c.run(t, fsys, dir)
			})
		}
	}
}

// create makes a file holding data, failing the test on error.
func create(t *testing.T, fsys FS, name string, data string) File {
	t.Helper()
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	return f
}

// contents reads all of f, checking that Size agrees.
func contents(t *testing.T, f File) string {
	t.Helper()
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	if n, err := f.ReadAt(buf, 0); err != nil && !(err == io.EOF && n == len(buf)) {
		t.Fatalf("read %d bytes: n=%d err=%v", size, n, err)
	}
	return string(buf)
}

func openContents(t *testing.T, fsys FS, name string) string {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	return contents(t, f)
}

func testWriteRead(t *testing.T, fsys FS, dir string) {
	name := path.Join(dir, "a")
	f := create(t, fsys, name, "hello")
	if _, err := f.WriteAt([]byte("world"), 8); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	want := "hello\x00\x00\x00world"
	if got := contents(t, f); got != want {
		t.Fatalf("contents %q, want %q", got, want)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := openContents(t, fsys, name); got != want {
		t.Fatalf("reopened contents %q, want %q", got, want)
	}

	g, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	buf := make([]byte, 10)
	n, err := g.ReadAt(buf, 8) // 5 bytes exist
	if n != 5 || err != io.EOF || string(buf[:n]) != "world" {
		t.Fatalf("ReadAt past end: n=%d err=%v %q, want 5, EOF, world", n, err, buf[:n])
	}
	if n, err := g.ReadAt(buf, 100); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt beyond end: n=%d err=%v, want 0, EOF", n, err)
	}
}

func testPreallocate(t *testing.T, fsys FS, dir string) {
	f := create(t, fsys, path.Join(dir, "a"), "abc")
	for _, size := range []int64{4096, 100, 0} { // smaller sizes never shrink
		if err := f.Preallocate(size); err != nil {
			t.Fatalf("preallocate %d: %v", size, err)
		}
		if got := contents(t, f); got != "abc"+strings.Repeat("\x00", 4093) {
			t.Fatalf("after preallocate %d: %d bytes, starting %q; want abc and 4093 zeros", size, len(got), got[:min(len(got), 8)])
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func testTruncate(t *testing.T, fsys FS, dir string) {
	f := create(t, fsys, path.Join(dir, "a"), "0123456789")
	steps := []struct {
		size int64
		want string
	}{
		{4, "0123"},
		{8, "0123\x00\x00\x00\x00"}, // regrown bytes are zeros, not the old ones
		{0, ""},
	}
	for _, s := range steps {
		if err := f.Truncate(s.size); err != nil {
			t.Fatalf("truncate %d: %v", s.size, err)
		}
		if got := contents(t, f); got != s.want {
			t.Fatalf("after truncate %d: %q, want %q", s.size, got, s.want)
		}
	}
}

func testRename(t *testing.T, fsys FS, dir string) {
	a, b := path.Join(dir, "a"), path.Join(dir, "b")
	create(t, fsys, a, "first")
	create(t, fsys, b, "second")
	if err := fsys.Rename(a, b); err != nil { // replaces b
		t.Fatal(err)
	}
	if _, err := fsys.Open(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open renamed-away name: %v, want ErrNotExist", err)
	}
	if got := openContents(t, fsys, b); got != "first" {
		t.Fatalf("renamed file holds %q, want first", got)
	}
	if err := fsys.Rename(a, b); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("rename of missing file: %v, want ErrNotExist", err)
	}
}

func testRemove(t *testing.T, fsys FS, dir string) {
	a := path.Join(dir, "a")
	create(t, fsys, a, "x")
	if err := fsys.Remove(a); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Open(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open removed file: %v, want ErrNotExist", err)
	}
	if err := fsys.Remove(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("remove twice: %v, want ErrNotExist", err)
	}
}

func testList(t *testing.T, fsys FS, dir string) {
	for _, n := range []string{"c", "a", "b"} {
		create(t, fsys, path.Join(dir, n), "")
	}
	if err := fsys.MkdirAll(path.Join(dir, "sub", "deeper")); err != nil {
		t.Fatal(err)
	}
	if err := fsys.MkdirAll(path.Join(dir, "sub")); err != nil { // exists: fine
		t.Fatal(err)
	}
	got, err := fsys.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "sub"}; !slices.Equal(got, want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	create(t, fsys, path.Join(dir, "sub", "deeper", "x"), "")
	if err := fsys.SyncDir(path.Join(dir, "sub", "deeper")); err != nil {
		t.Fatal(err)
	}
}

func testLock(t *testing.T, fsys FS, dir string) {
	name := path.Join(dir, "LOCK")
	l, err := fsys.Lock(name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fsys.Lock(name)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), name) {
		t.Fatalf("second lock: %v, want ErrLocked naming %s", err, name)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = fsys.Lock(name)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l.Close()
}

func testExistence(t *testing.T, fsys FS, dir string) {
	a := path.Join(dir, "a")
	create(t, fsys, a, "keep")
	if _, err := fsys.Create(a); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("create existing: %v, want ErrExist", err)
	}
	if got := openContents(t, fsys, a); got != "keep" {
		t.Fatalf("failed create changed the file to %q", got)
	}
	missing := path.Join(dir, "missing")
	if _, err := fsys.Open(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open missing: %v, want ErrNotExist", err)
	}
	if _, err := fsys.Create(path.Join(missing, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("create in missing dir: %v, want ErrNotExist", err)
	}
	if _, err := fsys.List(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("list missing dir: %v, want ErrNotExist", err)
	}
	var pe *fs.PathError
	if _, err := fsys.Open(missing); !errors.As(err, &pe) || pe.Path != missing {
		t.Fatalf("open missing: %v, want a *fs.PathError naming %s", err, missing)
	}
}

func testClosed(t *testing.T, fsys FS, dir string) {
	f := create(t, fsys, path.Join(dir, "a"), "x")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("y"), 0); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("write after close: %v, want ErrClosed", err)
	}
	if err := f.Sync(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("sync after close: %v, want ErrClosed", err)
	}
}

// testConcurrent writes and reads distinct ranges from several goroutines;
// run with -race.
func testConcurrent(t *testing.T, fsys FS, dir string) {
	const workers, chunk = 8, 512
	f := create(t, fsys, path.Join(dir, "a"), "")
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			want := bytes.Repeat([]byte{byte('a' + w)}, chunk)
			if _, err := f.WriteAt(want, int64(w*chunk)); err != nil {
				t.Error(err)
				return
			}
			got := make([]byte, chunk)
			if _, err := f.ReadAt(got, int64(w*chunk)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("worker %d read back %q..., err %v", w, got[:4], err)
			}
		})
	}
	wg.Wait()
	if size, _ := f.Size(); size != workers*chunk {
		t.Fatalf("size %d, want %d", size, workers*chunk)
	}
}
