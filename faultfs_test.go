package raftpipe

import (
	"bytes"
	"io/fs"
	"sync"
	"testing"

	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// faultFS is vfs.Default under a host's log with a disk fault a test arms
// while the host runs: every File.Sync either parks at a gate until
// release (a disk that stalls) or fails without syncing (a disk that
// errs). The fault can arm at once or at the first write that carries a
// given command, so a test stalls exactly the sync that would make that
// command durable: arming at once would also catch the sync of a hard
// state still in flight from earlier work, and the command's write would
// then wait behind it, never reaching the disk.
//
// It also tells when a command is durable (synced), so a test can tell "on
// its way to disk" from "on disk" by events rather than by timing.
type faultFS struct {
	vfs.FS

	mu      sync.Mutex
	from    []byte        // the fault arms at the first write containing it; nil: at once
	armed   bool          // syncs from now on suffer the fault
	gate    chan struct{} // non-nil: an armed Sync parks until it is closed
	failErr error         // non-nil: an armed Sync fails with it
	hit     chan struct{} // closed when the armed fault first takes a sync
	hitDone bool
	watches []*syncWatch
}

// syncWatch waits for a command to be durable.
type syncWatch struct {
	marker  []byte
	written bool          // a write carried marker: the next good sync covers it
	synced  chan struct{} // closed once a sync after that write succeeded
	done    bool
}

type faultFile struct {
	vfs.File
	fs   *faultFS
	name string
}

func newFaultFS() *faultFS { return &faultFS{FS: vfs.Default} }

func (f *faultFS) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) Open(name string) (vfs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

// holdSyncs parks every sync from the one covering the first write that
// contains from (from now on if from is nil) until release, which runs at
// the latest when the test ends, before the hosts stop (cleanups run last
// in, first out, and this one is registered after newCluster's): a host
// cannot stop while its fsync stage is parked. The channel closes when
// the first sync parks.
func (f *faultFS) holdSyncs(t *testing.T, from []byte) <-chan struct{} {
	t.Cleanup(f.release)
	return f.arm(from, make(chan struct{}), nil)
}

// failSyncs makes every sync from the one covering the first write that
// contains from (from now on if from is nil) fail with err, syncing
// nothing. The channel closes when the first sync fails.
func (f *faultFS) failSyncs(err error, from []byte) <-chan struct{} {
	return f.arm(from, nil, err)
}

func (f *faultFS) arm(from []byte, gate chan struct{}, err error) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.from, f.armed, f.gate, f.failErr = from, from == nil, gate, err
	f.hit, f.hitDone = make(chan struct{}), false
	return f.hit
}

// release opens the gate and disarms the fault: parked syncs go on, and
// later ones run as usual.
func (f *faultFS) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate != nil {
		close(f.gate)
	}
	f.from, f.armed, f.gate, f.failErr = nil, false, nil, nil
}

// synced returns a channel closed once a write containing marker, made
// after this call, has been synced without error.
func (f *faultFS) synced(marker []byte) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &syncWatch{marker: marker, synced: make(chan struct{})}
	f.watches = append(f.watches, w)
	return w.synced
}

// noteHit closes hit the first time the armed fault takes a sync. Called
// with mu held.
func (f *faultFS) noteHit() {
	if !f.hitDone {
		f.hitDone = true
		close(f.hit)
	}
}

func (file *faultFile) WriteAt(p []byte, off int64) (int, error) {
	f := file.fs
	f.mu.Lock()
	if !f.armed && f.from != nil && bytes.Contains(p, f.from) {
		f.armed = true
	}
	for _, w := range f.watches {
		if !w.written && bytes.Contains(p, w.marker) {
			w.written = true
		}
	}
	f.mu.Unlock()
	return file.File.WriteAt(p, off)
}

func (file *faultFile) Sync() error {
	f := file.fs
	f.mu.Lock()
	var covered []*syncWatch // written before this sync began
	for _, w := range f.watches {
		if w.written && !w.done {
			covered = append(covered, w)
		}
	}
	gate := f.gate
	if !f.armed {
		gate = nil
	}
	if gate != nil {
		f.noteHit()
	}
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	failErr := f.failErr
	if !f.armed {
		failErr = nil
	}
	if failErr != nil {
		f.noteHit()
	}
	f.mu.Unlock()
	if failErr != nil {
		return &fs.PathError{Op: "fdatasync", Path: file.name, Err: failErr}
	}
	if err := file.File.Sync(); err != nil {
		return err
	}
	f.mu.Lock()
	for _, w := range covered {
		if !w.done {
			w.done = true
			close(w.synced)
		}
	}
	f.mu.Unlock()
	return nil
}
