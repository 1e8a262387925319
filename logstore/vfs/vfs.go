// Package vfs is the file-system seam of the logstore: the few operations a
// write-ahead log needs (positional reads and writes, fdatasync,
// preallocation, directory sync, an exclusive lock), implemented once over
// the operating system and once in memory. The in-memory one can crash,
// keeping only what was synced, and can inject errors, so disk faults are
// unit tests.
//
// The seam is ours rather than github.com/lni/goutils/vfs: that one has no
// preallocation, no fdatasync distinct from fsync, and its in-memory crash
// model does not make file creation, rename and removal depend on a
// directory sync, which is the part a WAL most often gets wrong.
package vfs

import (
	"errors"
	"io"
)

// FS is a namespace of files. Names are slash-separated paths.
type FS interface {
	// Create creates the named file, empty, for reading and writing. It
	// fails if the file exists. The new name is durable only after SyncDir
	// of its directory.
	Create(name string) (File, error)
	// Open opens an existing file for reading and writing.
	Open(name string) (File, error)
	// Remove removes a file; durable only after SyncDir.
	Remove(name string) error
	// Rename renames a file, replacing newname if it exists; durable only
	// after SyncDir.
	Rename(oldname, newname string) error
	// List returns the names (not paths) of the entries in dir, sorted.
	List(dir string) ([]string, error)
	// MkdirAll creates dir and any missing parents, durably.
	MkdirAll(dir string) error
	// SyncDir makes the creations, renames and removals in dir durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on the named file, creating it if
	// needed, so that two processes never open the same store. Closing the
	// returned Closer releases it.
	Lock(name string) (io.Closer, error)
}

// File is an open file. ReadAt and WriteAt may be called concurrently on
// distinct ranges; the other methods are not concurrent with writes.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync makes the file's written bytes durable (fdatasync: the data and
	// the metadata needed to read it back, such as its size).
	Sync() error
	// Preallocate reserves space for the file's first size bytes, so that
	// later writes below size neither fail for lack of space nor change the
	// file's size; the reserved bytes read as zeros. The file's size becomes
	// at least size. Durable after Sync.
	Preallocate(size int64) error
	// Truncate sets the file's size; durable after Sync.
	Truncate(size int64) error
	// Size returns the file's current size.
	Size() (int64, error)
}

// ErrInjected is the error an injector returns unless it chooses another.
var ErrInjected = errors.New("vfs: injected error")

// Op names an operation, for error injection.
type Op int

// The operations an injector sees, one per method of FS and File (but
// File.Size, which cannot fail in memory).
const (
	OpCreate Op = iota + 1
	OpOpen
	OpRemove
	OpRename
	OpList
	OpMkdirAll
	OpSyncDir
	OpLock
	OpRead
	OpWrite
	OpSync
	OpPreallocate
	OpTruncate
	OpClose
)

// String names the operation as error messages do.
func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpOpen:
		return "open"
	case OpRemove:
		return "remove"
	case OpRename:
		return "rename"
	case OpList:
		return "list"
	case OpMkdirAll:
		return "mkdirall"
	case OpSyncDir:
		return "syncdir"
	case OpLock:
		return "lock"
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	case OpPreallocate:
		return "preallocate"
	case OpTruncate:
		return "truncate"
	case OpClose:
		return "close"
	}
	return "op(?)"
}
