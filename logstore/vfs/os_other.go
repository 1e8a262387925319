//go:build !linux

package vfs

import "os"

// fdatasync falls back to the os package's Sync (fsync; F_FULLFSYNC on
// darwin), which is at least as strong.
func fdatasync(f *os.File) error { return f.Sync() }

// preallocate only extends the file: it sets the size without reserving
// blocks, so a later write may still find the disk full.
func preallocate(f *os.File, size int64) error { return extend(f, size) }

// lockFile does nothing: on these platforms Lock only creates the file and
// is advisory-less, so it does not stop a second process opening the
// store. Production runs on Linux.
func lockFile(*os.File) error { return nil }
