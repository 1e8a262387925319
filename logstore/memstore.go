package logstore

import "github.com/raftpipe/raftpipe/logstore/vfs"

// OpenInMemory opens a store on a fresh in-memory file system: the real
// store, every code path the same, for the tests of other packages. Pass
// fs to crash it (fs.Crash()) and reopen with the same opts.Dir; nil makes
// a new one. opts.Dir defaults to "/wal".
func OpenInMemory(fs *vfs.MemFS, opts Options) (*Store, *vfs.MemFS, error) {
	if fs == nil {
		fs = vfs.NewMem()
	}
	opts.FS = fs
	if opts.Dir == "" {
		opts.Dir = "/wal"
	}
	s, err := Open(opts)
	return s, fs, err
}
