package consensus

import (
	"fmt"
	"sync"
)

// Storage is the read-only view of the persisted log that a Core reads
// through: entries that left memory once persisted, the terms of indexes,
// and the bounds of the log. The stages write it (the logstore); a Core
// only reads it, and only for indexes the stages acknowledged as persisted.
type Storage interface {
	// InitialState returns the persisted hard state.
	InitialState() (HardState, error)
	// Snapshot returns the metadata of the newest snapshot, zero if none.
	Snapshot() (SnapshotMeta, error)
	// Entries returns the entries in [lo, hi), cut after maxBytes of them
	// but never empty. Entries below FirstIndex give ErrCompacted, beyond
	// LastIndex ErrUnavailable. The caller must not modify the result.
	Entries(lo, hi, maxBytes uint64) ([]Entry, error)
	// Term returns the term of the entry at i, for i in
	// [FirstIndex-1, LastIndex]: the entry before the first is the
	// snapshot's.
	Term(i uint64) (uint64, error)
	// FirstIndex is the index of the first entry kept: the snapshot's
	// index plus one.
	FirstIndex() (uint64, error)
	// LastIndex is the index of the last persisted entry, or the
	// snapshot's index when the log is empty.
	LastIndex() (uint64, error)
}

// MemoryStorage is a Storage held in memory, for tests and benchmarks. Its
// writers (Append, SetHardState, ApplySnapshot, Compact) play the fsync
// stage: call them before acknowledging the matching Ready.
type MemoryStorage struct {
	mu   sync.Mutex
	hs   HardState
	snap SnapshotMeta
	// ents[0] is a placeholder for the entry at snap.Index: only its Index
	// and Term count.
	ents []Entry
}

// NewMemoryStorage returns an empty storage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{ents: make([]Entry, 1)}
}

func (s *MemoryStorage) InitialState() (HardState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hs, nil
}

func (s *MemoryStorage) Snapshot() (SnapshotMeta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, nil
}

func (s *MemoryStorage) offset() uint64 { return s.ents[0].Index }
func (s *MemoryStorage) last() uint64   { return s.ents[0].Index + uint64(len(s.ents)) - 1 }

func (s *MemoryStorage) Entries(lo, hi, maxBytes uint64) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lo <= s.offset() {
		return nil, ErrCompacted
	}
	if hi > s.last()+1 {
		return nil, fmt.Errorf("%w: entries [%d, %d) beyond last index %d", ErrUnavailable, lo, hi, s.last())
	}
	ents := s.ents[lo-s.offset() : hi-s.offset()]
	return limitSize(ents, maxBytes), nil
}

func (s *MemoryStorage) Term(i uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < s.offset() {
		return 0, ErrCompacted
	}
	if i > s.last() {
		return 0, ErrUnavailable
	}
	return s.ents[i-s.offset()].Term, nil
}

func (s *MemoryStorage) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset() + 1, nil
}

func (s *MemoryStorage) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last(), nil
}

// SetHardState persists hs.
func (s *MemoryStorage) SetHardState(hs HardState) {
	s.mu.Lock()
	s.hs = hs
	s.mu.Unlock()
}

// Append persists ents, replacing any suffix they conflict with. ents must
// be contiguous and start at or before the last index plus one.
func (s *MemoryStorage) Append(ents []Entry) error {
	if len(ents) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	first := ents[0].Index
	if first > s.last()+1 {
		return fmt.Errorf("%w: append at %d leaves a gap after %d", ErrUnavailable, first, s.last())
	}
	if first <= s.offset() {
		// The part at or below the snapshot is already covered by it.
		skip := s.offset() + 1 - first
		if skip >= uint64(len(ents)) {
			return nil
		}
		ents, first = ents[skip:], s.offset()+1
	}
	keep := first - s.offset()
	if keep < uint64(len(s.ents)) {
		// Overwriting a suffix: copy, because slices of the old suffix may
		// still be on their way to followers.
		s.ents = append(s.ents[:keep:keep], ents...)
		return nil
	}
	s.ents = append(s.ents, ents...)
	return nil
}

// ApplySnapshot replaces the whole log by the snapshot meta describes.
func (s *MemoryStorage) ApplySnapshot(meta SnapshotMeta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap = SnapshotMeta{Index: meta.Index, Term: meta.Term, Membership: meta.Membership.clone()}
	s.ents = []Entry{{Index: meta.Index, Term: meta.Term}}
}

// Compact records a snapshot at index, with membership m, and drops the
// entries up to it. index must be a persisted entry.
func (s *MemoryStorage) Compact(index uint64, m Membership) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index <= s.offset() {
		return nil
	}
	if index > s.last() {
		return fmt.Errorf("%w: compact to %d beyond last index %d", ErrUnavailable, index, s.last())
	}
	i := index - s.offset()
	s.snap = SnapshotMeta{Index: index, Term: s.ents[i].Term, Membership: m.clone()}
	kept := make([]Entry, 1, uint64(len(s.ents))-i)
	kept[0] = Entry{Index: index, Term: s.ents[i].Term}
	s.ents = append(kept, s.ents[i+1:]...)
	return nil
}

// limitSize returns the longest prefix of ents within maxBytes, at least one.
func limitSize(ents []Entry, maxBytes uint64) []Entry {
	if len(ents) == 0 {
		return ents
	}
	size := ents[0].size()
	for i := 1; i < len(ents); i++ {
		size += ents[i].size()
		if size > maxBytes {
			return ents[:i]
		}
	}
	return ents
}
