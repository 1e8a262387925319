package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Default is the operating system's file system. Its errors are the os
// package's *fs.PathError values, which name the file and keep
// errors.Is(err, syscall.ENOSPC) and errors.Is(err, fs.ErrNotExist) working.
var Default FS = osFS{}

// osFS implements FS with the os package; the platform files supply
// fdatasync, preallocation and locking.
type osFS struct{}

// osFile embeds *os.File for ReadAt, WriteAt, Close and Truncate, which
// already have the semantics File asks for, and replaces Sync (fsync) with
// fdatasync.
type osFile struct{ *os.File }

func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// MkdirAll creates dir and its missing parents, then fsyncs the parent of
// each directory it created, deepest first, so that by the time the
// topmost new name is durable everything below it is too.
func (osFS) MkdirAll(dir string) error {
	var created []string // missing before the call, deepest first
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			break // exists, or an error os.MkdirAll will report
		}
		created = append(created, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range created {
		if err := syncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

func (osFS) SyncDir(dir string) error { return syncDir(dir) }

// syncDir fsyncs a directory, which makes the creations, renames and
// removals of its entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// Lock opens or creates name and locks it (see lockFile for the platform's
// kind of lock). The lock lives as long as the open file: closing the
// returned Closer, or the process exiting, releases it.
func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (f osFile) Sync() error { return fdatasync(f.File) }

func (f osFile) Preallocate(size int64) error {
	switch {
	case size < 0:
		return &fs.PathError{Op: "preallocate", Path: f.Name(), Err: syscall.EINVAL}
	case size == 0:
		return nil // fallocate rejects an empty range; there is nothing to reserve
	}
	return preallocate(f.File, size)
}

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// extend grows f with zeros to size if it is smaller. It is preallocation
// for file systems that cannot reserve blocks: the size is right and the
// bytes read as zeros, but a later write may still find the disk full.
func extend(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() >= size {
		return nil
	}
	return f.Truncate(size)
}
