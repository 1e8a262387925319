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
	popts.EnsureDefaults() // the FS and table options snapshots are written with
	db, err := pebble.Open(opts.Dir, popts)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("kv: open pebble in %s: %w", opts.Dir, err)
	}
	return &Store{db: db, cache: cache, popts: popts, fs: popts.FS, snapshotFileBytes: opts.SnapshotFileBytes,
		batch: db.NewIndexedBatch(), machines: map[uint64]*Machine{}}, nil
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
// may be compacted away.
func (s *Store) Flush() error {
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("kv: flush: %w", err)
	}
	return nil
}

// Close flushes what was committed, so that the next start replays no
// log, and closes Pebble. (A crash instead loses what was not flushed;
// the next start replays it from the Raft log.)
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
	err := s.db.Flush()
	err = errors.Join(err, s.db.Close())
	s.cache.Unref()
	return err
}

var _ fsm.Committer = (*Store)(nil)
