//go:build linux

package vfs

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// fdatasync flushes f's data and the metadata needed to read it back (its
// size) but not its timestamps: one journal commit fewer than fsync on
// ext4 and xfs when a write did not grow the file.
func fdatasync(f *os.File) error {
	return control(f, "fdatasync", syscall.Fdatasync)
}

// preallocate reserves f's first size bytes with fallocate mode 0, which
// also extends the file's size. File systems without fallocate get the
// size without the reservation.
func preallocate(f *os.File, size int64) error {
	err := control(f, "fallocate", func(fd int) error {
		return syscall.Fallocate(fd, 0, 0, size)
	})
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return extend(f, size)
	}
	return err
}

// lockFile takes a non-blocking exclusive flock. flock locks belong to the
// open file description, so a second Lock in the same process conflicts
// too, as it should: one store, one opener.
func lockFile(f *os.File) error {
	err := control(f, "flock", func(fd int) error {
		return syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	})
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return lockedError(f.Name())
	}
	return err
}

// control runs fn on f's descriptor, retrying on EINTR, and returns its
// error as a *fs.PathError naming f. Going through SyscallConn rather than
// f.Fd keeps the descriptor from being closed and reused under fn.
func control(f *os.File, op string, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return &fs.PathError{Op: op, Path: f.Name(), Err: err}
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if opErr = fn(int(fd)); opErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		// Control fails only when f is closed; say so as os does.
		return &fs.PathError{Op: op, Path: f.Name(), Err: os.ErrClosed}
	}
	if opErr != nil {
		return &fs.PathError{Op: op, Path: f.Name(), Err: opErr}
	}
	return nil
}
