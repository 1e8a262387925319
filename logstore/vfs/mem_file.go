package vfs

import (
	"io"
	"io/fs"
	"slices"
	"syscall"
)

// memFile is an open MemFS file. It keeps its node, not its name, so it
// keeps working after a rename or removal, as an open descriptor does.
type memFile struct {
	fs     *MemFS
	node   *memNode
	name   string // cleaned path at open, for the injector and errors
	closed bool   // guarded by fs.mu
}

// begin runs the injector for op, then takes fs.mu and checks the handle
// is open. On success the caller holds fs.mu and must release it.
func (f *memFile) begin(op Op) error {
	if err := f.fs.injected(op, f.name); err != nil {
		return err
	}
	f.fs.mu.Lock()
	if f.closed {
		f.fs.mu.Unlock()
		return pathErr(op, f.name, fs.ErrClosed)
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.begin(OpRead); err != nil {
		return 0, err
	}
	defer f.fs.mu.Unlock()
	if off < 0 {
		return 0, pathErr(OpRead, f.name, syscall.EINVAL)
	}
	data := f.node.data
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	n := copy(p, data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.begin(OpWrite); err != nil {
		return 0, err
	}
	defer f.fs.mu.Unlock()
	if off < 0 {
		return 0, pathErr(OpWrite, f.name, syscall.EINVAL)
	}
	if err := f.fs.growLocked(f.node, off+int64(len(p)), OpWrite, f.name); err != nil {
		return 0, err
	}
	f.node.markDirty(int(off), int(off)+len(p))
	return copy(f.node.data[off:], p), nil
}

func (f *memFile) Close() error {
	if err := f.begin(OpClose); err != nil {
		return err
	}
	defer f.fs.mu.Unlock()
	f.closed = true
	return nil
}

// Sync makes the current bytes the ones a crash keeps.
func (f *memFile) Sync() error {
	if err := f.begin(OpSync); err != nil {
		return err
	}
	defer f.fs.mu.Unlock()
	f.node.sync()
	return nil
}

// Preallocate extends the file with zeros to size. The zeros count against
// the capacity at once, so later writes below size cannot fail with ENOSPC.
func (f *memFile) Preallocate(size int64) error {
	if err := f.begin(OpPreallocate); err != nil {
		return err
	}
	defer f.fs.mu.Unlock()
	if size < 0 {
		return pathErr(OpPreallocate, f.name, syscall.EINVAL)
	}
	return f.fs.growLocked(f.node, size, OpPreallocate, f.name)
}

func (f *memFile) Truncate(size int64) error {
	if err := f.begin(OpTruncate); err != nil {
		return err
	}
	defer f.fs.mu.Unlock()
	if size < 0 {
		return pathErr(OpTruncate, f.name, syscall.EINVAL)
	}
	if size < int64(len(f.node.data)) {
		f.node.data = f.node.data[:size] // growLocked zeroes the tail if it regrows
		return nil
	}
	return f.fs.growLocked(f.node, size, OpTruncate, f.name)
}

// Size is not injectable: there is no Op for it.
func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, &fs.PathError{Op: "size", Path: f.name, Err: fs.ErrClosed}
	}
	return int64(len(f.node.data)), nil
}

// growLocked extends n with zeros to size if it is smaller, or fails with
// ENOSPC, changing nothing, if that would exceed the capacity.
func (m *MemFS) growLocked(n *memNode, size int64, op Op, name string) error {
	old := int64(len(n.data))
	if size <= old {
		return nil
	}
	if m.capacityBytes > 0 && m.usedLocked()+size-old > m.capacityBytes {
		return pathErr(op, name, syscall.ENOSPC)
	}
	n.data = slices.Grow(n.data, int(size-old))[:size]
	clear(n.data[old:]) // the backing array may hold bytes from before a Truncate
	n.markDirty(int(old), int(size))
	return nil
}

// usedLocked is the sum of the current sizes of the files in the
// namespace. Each node has at most one current name, so none counts twice;
// removed files still open do not count, a simplification.
func (m *MemFS) usedLocked() int64 {
	var used int64
	for _, d := range m.dirs {
		for _, n := range d.entries {
			used += int64(len(n.data))
		}
	}
	return used
}
