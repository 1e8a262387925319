package vfs

import (
	"io/fs"
	"maps"
	"math/rand/v2"
	"path"
	"slices"
)

// Crash returns a new, independent MemFS holding what a power loss now
// would leave: each directory's entries as of its last SyncDir, each file
// with its bytes as of its last Sync. m and its open files keep working
// but no longer relate to the result. Locks, the injector and the capacity
// are not carried over.
func (m *MemFS) Crash() *MemFS {
	return m.crash(func(n *memNode) []byte { return n.synced })
}

// CrashTorn is Crash with a torn last write: every surviving file keeps,
// beyond its synced bytes, a random prefix of what was written since. With
// d the first offset where the current and synced bytes differ, it picks
// cut uniformly in [d, len(current)] and keeps current[:cut] followed by
// synced[cut:]. Files are visited in path order, so one seed gives one
// result.
func (m *MemFS) CrashTorn(rng *rand.Rand) *MemFS {
	return m.crash(func(n *memNode) []byte { return torn(n.data, n.synced, rng) })
}

// crash builds the crashed MemFS, with content giving what a crash keeps
// of a node. Names that shared a node share its clone.
func (m *MemFS) crash(content func(*memNode) []byte) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	clones := map[*memNode]*memNode{}
	for _, p := range slices.Sorted(maps.Keys(m.dirs)) {
		d := newMemDir()
		synced := m.dirs[p].synced
		for _, name := range slices.Sorted(maps.Keys(synced)) {
			n := clones[synced[name]]
			if n == nil {
				b := content(synced[name])
				n = &memNode{data: slices.Clone(b), synced: slices.Clone(b)}
				clones[synced[name]] = n
			}
			d.entries[name], d.synced[name] = n, n
		}
		c.dirs[p] = d
	}
	return c
}

// torn returns synced overwritten by a random prefix, at least d bytes
// long, of cur (see CrashTorn).
func torn(cur, synced []byte, rng *rand.Rand) []byte {
	d := 0
	for d < len(cur) && d < len(synced) && cur[d] == synced[d] {
		d++
	}
	cut := d + rng.IntN(len(cur)-d+1)
	out := slices.Clone(cur[:cut])
	if len(synced) > cut {
		out = append(out, synced[cut:]...)
	}
	return out
}

// ReadFile returns a copy of the current bytes of name, bypassing the
// injector.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	name = path.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.fileLocked(name)
	if n == nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(n.data), nil
}

// WriteFile replaces the bytes of name with data and marks them and the
// name synced, creating the file and its missing parent directories if
// needed. It bypasses the injector and the capacity: it is for tests that
// cut or corrupt files between a crash and a reopen.
func (m *MemFS) WriteFile(name string, data []byte) error {
	name = path.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.mkdirAllLocked(path.Dir(name)); err != nil {
		return err
	}
	d, base := m.parentLocked(name)
	n := d.entries[base]
	if n == nil {
		n = &memNode{}
		d.entries[base] = n
	}
	d.synced[base] = n
	n.data, n.synced = slices.Clone(data), slices.Clone(data)
	return nil
}
