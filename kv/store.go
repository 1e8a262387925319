package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/raftpipe/raftpipe/fsm"
)

// Store is a host's Pebble instance, shared by the key/value machines of
// all its groups. The apply stage writes a drain's entries of every group
// into one open batch (Machine.Update) and commits it once (Commit, the
// fsm.Committer of every Machine), so a drain costs one Pebble write
// whatever the number of groups.
type Store struct {
	db    *pebble.DB
	cache *pebble.Cache
	popts *pebble.Options
	fs    vfs.FS
	// snapshotFileBytes cuts a snapshot's SST files.
	snapshotFileBytes int64
	// flushFailed holds the error of the latest failed flush. Pebble
	// retries a failed flush for ever; Flush and Close give up at the
	// first failure instead, which is safe since the Raft log still holds
	// every entry not flushed.
	flushFailed chan error

	// The open batch and the machines with writes in it belong to the
	// apply stage's goroutine, the only caller of Update and Commit.
	batch   *pebble.Batch
	pending []*Machine

	mu       sync.Mutex
	machines map[uint64]*Machine
	closed   bool
}

// ErrClosed is returned by a closed Store, and by its machines.
var ErrClosed = errors.New("kv: store closed")

// Open opens (or creates) the Pebble instance in opts.Dir.
func Open(opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.fillDefaults()
	cache := pebble.NewCache(opts.CacheBytes)
	popts := opts.pebbleOptions(cache)
	flushFailed := make(chan error, 1)
	popts.EventListener = &pebble.EventListener{FlushEnd: func(info pebble.FlushInfo) {
		// Pebble reports a flush that wrote no table (its keys all
		// excised, say) with an unexported error of this text; it is a
		// success. The catch-up tests fail if that changes.
		if info.Err != nil && info.Err.Error() != "pebble: empty table" {
			select {
			case flushFailed <- info.Err:
			default: // one failure unread is enough to fail a waiting Flush
			}
		}
	}}
	popts.EnsureDefaults() // the FS and table options snapshots are written with
	db, err := pebble.Open(opts.Dir, popts)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("kv: open pebble in %s: %w", opts.Dir, err)
	}
	return &Store{db: db, cache: cache, popts: popts, fs: popts.FS, snapshotFileBytes: opts.SnapshotFileBytes,
		flushFailed: flushFailed, batch: db.NewIndexedBatch(), machines: map[uint64]*Machine{}}, nil
}

// Machine returns the state machine of group, reading its applied index
// from Pebble. One machine per group may be open at a time.
func (s *Store) Machine(group uint64) (*Machine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.machines[group] != nil {
		return nil, fmt.Errorf("kv: group %d already has an open machine", group)
	}
	applied, err := s.readApplied(group)
	if err != nil {
		return nil, err
	}
	m := &Machine{s: s, group: group, pendingApplied: applied}
	m.applied.Store(applied)
	s.machines[group] = m
	return m, nil
}

// readApplied reads group's applied index; 0 for a group never applied.
func (s *Store) readApplied(group uint64) (uint64, error) {
	v, closer, err := s.db.Get(appliedKey(group))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("kv: group %d: read the applied index: %w", group, err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("kv: group %d: corrupt applied index: %d bytes, want 8", group, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Commit applies the open batch, the Updates of every machine since the
// last Commit, in one Pebble write without sync (the Raft log is the
// write-ahead log), and makes them visible to Lookup and Applied.
func (s *Store) Commit() error {
	if s.batch.Empty() && len(s.pending) == 0 {
		// Entries with no command (a new leader's no-op) write nothing,
		// but their index must still be recorded as applied.
		return nil
	}
	for _, m := range s.pending {
		s.batch.Set(appliedKey(m.group), binary.BigEndian.AppendUint64(nil, m.pendingApplied), nil)
	}
	if err := s.batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("kv: commit: %w", err)
	}
	for _, m := range s.pending {
		m.applied.Store(m.pendingApplied)
		m.inBatch = false
	}
	clear(s.pending)
	s.pending = s.pending[:0]
	s.batch.Reset()
	return nil
}

// Flush makes everything committed durable: after it returns, a crash
// loses no applied entry, and the Raft log below every machine's Applied
// may be compacted away. A failed flush fails it, with the disk's error.
func (s *Store) Flush() error {
	select {
	case <-s.flushFailed: // an earlier flush's failure, already retried
	default:
	}
	done, err := s.db.AsyncFlush()
	if err != nil {
		return fmt.Errorf("kv: flush: %w", err)
	}
	select {
	case <-done:
		return nil
	case err := <-s.flushFailed:
		// A failure of this flush, or of one queued before it, which
		// this one waits behind.
		return fmt.Errorf("kv: flush: %w", err)
	}
}

// Close flushes what was committed, so that the next start replays no
// log, and closes Pebble. (A crash instead loses what was not flushed;
// the next start replays it from the Raft log.) If the flush fails, Close
// returns its error and leaves Pebble as a crash would, since closing it
// would wait for the flush Pebble retries for ever.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// A machine used after this says so (ErrClosed) rather than touching
	// a closed batch. Stop the host first: an Update already under way
	// when Close runs is not waited for.
	for _, m := range s.machines {
		m.closed.Store(true)
	}
	s.batch.Close()
	if err := s.Flush(); err != nil {
		return fmt.Errorf("%w; Pebble left unclosed: the next start replays the unflushed entries from the Raft log", err)
	}
	err := s.db.Close()
	s.cache.Unref()
	return err
}

var _ fsm.Committer = (*Store)(nil)
