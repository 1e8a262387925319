package logstore

import (
	"fmt"
	"io"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
)

// Store is the write-ahead log of every group on a host. One goroutine at
// a time writes (Write and Purge take turns); any number read, through
// Storage, without waiting for a write's fsync.
type Store struct {
	opts Options
	lock io.Closer

	// purgeMu serializes Purges, so segments are removed oldest first
	// even though their files are removed outside writeMu.
	purgeMu sync.Mutex
	// writeMu serializes Write and Purge. The fields below it are the
	// writer's.
	writeMu sync.Mutex
	active  *segment
	oldest  uint32 // id of the oldest segment kept
	buf     []byte
	effects []effect
	plans   map[uint64]int // group to its plan in planBuf
	planBuf []plan
	scratch []consensus.Entry

	// segMu guards the segs map against a reader looking a segment up
	// while purge removes it; readers hold it across their ReadAt.
	segMu sync.RWMutex
	segs  map[uint32]*segment

	groupsMu sync.RWMutex
	groups   map[uint64]*groupIndex

	err       atomic.Pointer[error] // set once, by fail
	closed    atomic.Bool
	purgeWake chan struct{}
	purgeDone chan struct{}

	stats counters
}

// Open opens the store in opts.Dir, creating it if needed, and recovers
// what the segments hold: a torn tail in the newest segment is truncated
// and logged; any other damage fails the open with an error naming the
// segment and offset.
func Open(opts Options) (*Store, error) {
	opts.fillDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.Dir = path.Clean(opts.Dir)
	if err := opts.FS.MkdirAll(opts.Dir); err != nil {
		return nil, fmt.Errorf("logstore: %w", err)
	}
	lock, err := opts.FS.Lock(path.Join(opts.Dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("logstore: %w", err)
	}
	s := &Store{
		opts:      opts,
		lock:      lock,
		segs:      make(map[uint32]*segment),
		groups:    make(map[uint64]*groupIndex),
		plans:     make(map[uint64]int),
		purgeWake: make(chan struct{}, 1),
		purgeDone: make(chan struct{}),
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if opts.ManualPurge {
		close(s.purgeDone)
	} else {
		go s.purgeLoop()
	}
	return s, nil
}

// Err returns the error that stopped the store, or nil.
func (s *Store) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// fail stops the store for good; the first cause wins.
func (s *Store) fail(where string, cause error) error {
	err := fmt.Errorf("%w: %s: %w", ErrFailed, where, diskFull(cause))
	if s.err.CompareAndSwap(nil, &err) {
		s.opts.Logger.Error("logstore: stopped", "dir", s.opts.Dir, "err", err)
	}
	return *s.err.Load()
}

// Close stops the background purge and closes the files. Later calls
// return ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	close(s.purgeWake)
	<-s.purgeDone
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.closeFiles()
}

func (s *Store) closeFiles() error {
	s.segMu.Lock()
	defer s.segMu.Unlock()
	var first error
	for id, seg := range s.segs {
		if err := seg.f.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.segs, id)
	}
	if err := s.lock.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// group returns the index of group id, or nil if the store knows nothing
// of it.
func (s *Store) group(id uint64) *groupIndex {
	s.groupsMu.RLock()
	g := s.groups[id]
	s.groupsMu.RUnlock()
	return g
}

func (s *Store) groupOrCreate(id uint64) *groupIndex {
	if g := s.group(id); g != nil {
		return g
	}
	s.groupsMu.Lock()
	defer s.groupsMu.Unlock()
	g := s.groups[id]
	if g == nil {
		g = &groupIndex{}
		s.groups[id] = g
	}
	return g
}

// Groups returns the ids of the groups the store holds anything of.
func (s *Store) Groups() []uint64 {
	s.groupsMu.RLock()
	defer s.groupsMu.RUnlock()
	ids := make([]uint64, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	return ids
}

// segRefs counts references per segment; the writer's.
type segRefs struct{ s *Store }

func (r segRefs) acquire(at ref) {
	seg := r.s.segs[at.seg]
	seg.live++
	seg.liveBytes.Add(int64(at.size))
}

func (r segRefs) release(at ref) {
	seg := r.s.segs[at.seg]
	seg.live--
	seg.liveBytes.Add(-int64(at.size))
	if seg.live < 0 {
		panic(fmt.Sprintf("logstore: %s: live count %d", seg, seg.live))
	}
}

// since returns the nanoseconds elapsed from t.
func since(t time.Time) uint64 { return uint64(time.Since(t)) }
