package vfs

import (
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
)

// MemFS is an in-memory FS for tests. Its crash model keeps only synced
// state: a file's bytes as of its last File.Sync and a directory's entries
// as of its last SyncDir (see Crash). It can also inject errors
// (SetInjector) and run out of space (SetCapacity).
//
// Paths are cleaned with path.Clean. Directories exist once MkdirAll makes
// them (durably, at once); "." and "/" always exist. All methods are safe
// for concurrent use: one mutex guards everything, which is simple and
// fast enough for tests.
type MemFS struct {
	inject atomic.Pointer[func(Op, string) error] // nil: no injection

	mu            sync.Mutex
	dirs          map[string]*memDir // by cleaned path
	locks         map[string]bool    // cleaned names held by Lock
	capacityBytes int64              // 0: unlimited; else bound on the sum of current file sizes
}

// memDir is a directory. Files are entries; subdirectories are the dirs
// whose parent it is, and are always durable.
type memDir struct {
	entries map[string]*memNode // current: what List and Open see
	synced  map[string]*memNode // as of the last SyncDir: what a crash keeps
}

// memNode is a file's contents; several names may share one after a crash
// (a rename made durable in the new directory but not the old).
type memNode struct {
	data   []byte // current bytes
	synced []byte // as of the last File.Sync: what a crash keeps. Never aliases data.
	// [dirtyLo, dirtyHi) covers every byte of data that may differ from
	// synced, so Sync copies that range alone; empty when lo >= hi.
	dirtyLo, dirtyHi int
}

func (n *memNode) markDirty(lo, hi int) {
	if n.dirtyLo >= n.dirtyHi {
		n.dirtyLo, n.dirtyHi = lo, hi
		return
	}
	n.dirtyLo, n.dirtyHi = min(n.dirtyLo, lo), max(n.dirtyHi, hi)
}

// sync makes synced equal data, copying only what changed.
func (n *memNode) sync() {
	if len(n.synced) < len(n.data) {
		n.markDirty(len(n.synced), len(n.data))
		n.synced = slices.Grow(n.synced, len(n.data)-len(n.synced))
	}
	n.synced = n.synced[:len(n.data)]
	if lo, hi := n.dirtyLo, min(n.dirtyHi, len(n.data)); lo < hi {
		copy(n.synced[lo:hi], n.data[lo:hi])
	}
	n.dirtyLo, n.dirtyHi = 0, 0
}

// NewMem returns an empty MemFS.
func NewMem() *MemFS {
	return &MemFS{
		dirs:  map[string]*memDir{".": newMemDir(), "/": newMemDir()},
		locks: map[string]bool{},
	}
}

func newMemDir() *memDir {
	return &memDir{entries: map[string]*memNode{}, synced: map[string]*memNode{}}
}

// begin cleans name, runs the injector for op on it and takes m.mu. On
// success the caller holds m.mu and must release it.
func (m *MemFS) begin(op Op, name string) (string, error) {
	name = path.Clean(name)
	if err := m.injected(op, name); err != nil {
		return name, err
	}
	m.mu.Lock()
	return name, nil
}

// injected runs the injector, if any, for op on name. It is called before
// taking m.mu so that an injector may itself use the MemFS.
func (m *MemFS) injected(op Op, name string) error {
	if f := m.inject.Load(); f != nil {
		if err := (*f)(op, name); err != nil {
			return pathErr(op, name, err)
		}
	}
	return nil
}

// parentLocked returns name's directory (nil if it does not exist) and its
// base name.
func (m *MemFS) parentLocked(name string) (*memDir, string) {
	return m.dirs[path.Dir(name)], path.Base(name)
}

// fileLocked returns the file currently named name, or nil.
func (m *MemFS) fileLocked(name string) *memNode {
	if d, base := m.parentLocked(name); d != nil {
		return d.entries[base]
	}
	return nil
}

// Create creates name, empty. Its entry is durable only after SyncDir.
func (m *MemFS) Create(name string) (File, error) {
	name, err := m.begin(OpCreate, name)
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	d, base := m.parentLocked(name)
	switch {
	case d == nil:
		return nil, pathErr(OpCreate, name, fs.ErrNotExist)
	case d.entries[base] != nil || m.dirs[name] != nil:
		return nil, pathErr(OpCreate, name, fs.ErrExist)
	}
	n := &memNode{}
	d.entries[base] = n
	return &memFile{fs: m, node: n, name: name}, nil
}

// Open opens the file currently named name.
func (m *MemFS) Open(name string) (File, error) {
	name, err := m.begin(OpOpen, name)
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	n := m.fileLocked(name)
	if n == nil {
		return nil, pathErr(OpOpen, name, fs.ErrNotExist)
	}
	return &memFile{fs: m, node: n, name: name}, nil
}

// Remove removes name's entry; open handles keep working. A crash before
// SyncDir brings the file back with its synced bytes.
func (m *MemFS) Remove(name string) error {
	name, err := m.begin(OpRemove, name)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	d, base := m.parentLocked(name)
	if d == nil || d.entries[base] == nil {
		return pathErr(OpRemove, name, fs.ErrNotExist)
	}
	delete(d.entries, base)
	return nil
}

// Rename moves oldname's entry to newname, replacing any file there. The
// injector sees oldname. A crash before SyncDir of both directories undoes
// the part not synced.
func (m *MemFS) Rename(oldname, newname string) error {
	newname = path.Clean(newname)
	oldname, err := m.begin(OpRename, oldname)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	od, ob := m.parentLocked(oldname)
	nd, nb := m.parentLocked(newname)
	n := m.fileLocked(oldname)
	switch {
	case n == nil || nd == nil:
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	case m.dirs[newname] != nil:
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EISDIR}
	}
	delete(od.entries, ob)
	nd.entries[nb] = n
	return nil
}

// List returns the names of dir's files and subdirectories, sorted.
func (m *MemFS) List(dir string) ([]string, error) {
	dir, err := m.begin(OpList, dir)
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	d := m.dirs[dir]
	if d == nil {
		return nil, pathErr(OpList, dir, fs.ErrNotExist)
	}
	names := slices.Collect(maps.Keys(d.entries))
	for p := range m.dirs {
		if p != dir && path.Dir(p) == dir {
			names = append(names, path.Base(p))
		}
	}
	slices.Sort(names)
	return names, nil
}

// MkdirAll creates dir and its missing parents, durably at once: a WAL
// makes its directory once, and modelling its loss would test nothing.
func (m *MemFS) MkdirAll(dir string) error {
	dir, err := m.begin(OpMkdirAll, dir)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	return m.mkdirAllLocked(dir)
}

func (m *MemFS) mkdirAllLocked(dir string) error {
	if m.dirs[dir] != nil {
		return nil // ends the recursion: "." and "/" always exist
	}
	if err := m.mkdirAllLocked(path.Dir(dir)); err != nil {
		return err
	}
	if d, base := m.parentLocked(dir); d.entries[base] != nil {
		return pathErr(OpMkdirAll, dir, syscall.ENOTDIR)
	}
	m.dirs[dir] = newMemDir()
	return nil
}

// SyncDir makes dir's current entries the ones a crash keeps.
func (m *MemFS) SyncDir(dir string) error {
	dir, err := m.begin(OpSyncDir, dir)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	d := m.dirs[dir]
	if d == nil {
		return pathErr(OpSyncDir, dir, fs.ErrNotExist)
	}
	d.synced = maps.Clone(d.entries)
	return nil
}

// Lock takes name's lock, exclusive within this MemFS, creating the file
// durably if needed (lock files carry no data a crash test cares about).
func (m *MemFS) Lock(name string) (io.Closer, error) {
	name, err := m.begin(OpLock, name)
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	d, base := m.parentLocked(name)
	switch {
	case d == nil:
		return nil, pathErr(OpLock, name, fs.ErrNotExist)
	case m.locks[name]:
		return nil, lockedError(name)
	}
	if d.entries[base] == nil {
		n := &memNode{}
		d.entries[base], d.synced[base] = n, n
	}
	m.locks[name] = true
	return &memLock{fs: m, name: name}, nil
}

// memLock is a held MemFS lock.
type memLock struct {
	fs       *MemFS
	name     string
	released bool // guarded by fs.mu
}

func (l *memLock) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.released {
		return &fs.PathError{Op: "unlock", Path: l.name, Err: fs.ErrClosed}
	}
	l.released = true
	delete(l.fs.locks, l.name)
	return nil
}
