package vfs

import (
	"errors"
	"fmt"
	"io/fs"
)

// ErrLocked is wrapped by the error Lock returns when another holder has
// the lock: "vfs: lock /x/LOCK: held by another process".
var ErrLocked = errors.New("held by another process")

// lockedError names the file whose lock is held, so an operator who finds
// a second server refusing to start knows which store it collided on.
func lockedError(name string) error {
	return fmt.Errorf("vfs: lock %s: %w", name, ErrLocked)
}

// pathErr is the shape of every MemFS error, as of the os package's: the
// operation, the path, and a cause that errors.Is can match.
func pathErr(op Op, name string, err error) error {
	return &fs.PathError{Op: op.String(), Path: name, Err: err}
}
