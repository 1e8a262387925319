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
//
// Entries live in fixed-size chunks, so the log grows without copying and
// compaction drops whole chunks. A chunk is never written where a slice
// handed out by Entries could see it: overwriting a suffix copies the
// chunk's kept prefix into a new one.
type MemoryStorage struct {
	mu   sync.Mutex
	hs   HardState
	snap SnapshotMeta
	// first is the first index kept (the snapshot's plus one); chunks hold
	// the entries from base on, each chunk memChunk entries long but the
	// last. Invariant: base <= first, and first-base < memChunk.
	first  uint64
	base   uint64
	chunks [][]Entry
}

const memChunk = 1024

// NewMemoryStorage returns an empty storage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{first: 1, base: 1}
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

// last returns the last index, or first-1 when no entry is kept.
func (s *MemoryStorage) last() uint64 {
	n := len(s.chunks)
	if n == 0 {
		return s.first - 1
	}
	return s.base + uint64(n-1)*memChunk + uint64(len(s.chunks[n-1])) - 1
}

func (s *MemoryStorage) at(i uint64) *Entry {
	off := i - s.base
	return &s.chunks[off/memChunk][off%memChunk]
}

func (s *MemoryStorage) Entries(lo, hi, maxBytes uint64) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lo < s.first {
		return nil, ErrCompacted
	}
	if hi > s.last()+1 {
		return nil, fmt.Errorf("%w: entries [%d, %d) beyond last index %d", ErrUnavailable, lo, hi, s.last())
	}
	if lo >= hi {
		return nil, nil
	}
	off := lo - s.base
	chunk := s.chunks[off/memChunk]
	from := off % memChunk
	to := min(uint64(len(chunk)), from+hi-lo)
	// Cut at the chunk's end too: callers ask again for the rest.
	return limitSize(chunk[from:to:to], maxBytes), nil
}

func (s *MemoryStorage) Term(i uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case i+1 == s.first:
		return s.snap.Term, nil
	case i+1 < s.first:
		return 0, ErrCompacted
	case i > s.last():
		return 0, ErrUnavailable
	}
	return s.at(i).Term, nil
}

func (s *MemoryStorage) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, nil
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
	if first := ents[0].Index; first > s.last()+1 {
		return fmt.Errorf("%w: append at %d leaves a gap after %d", ErrUnavailable, first, s.last())
	}
	if ents[0].Index < s.first {
		// The part below the first index is covered by the snapshot.
		skip := s.first - ents[0].Index
		if skip >= uint64(len(ents)) {
			return nil
		}
		ents = ents[skip:]
	}
	if ents[0].Index <= s.last() {
		s.truncateAfter(ents[0].Index - 1)
	}
	if len(s.chunks) == 0 {
		s.base = ents[0].Index
	}
	for len(ents) > 0 {
		n := len(s.chunks)
		if n == 0 || len(s.chunks[n-1]) == memChunk {
			s.chunks = append(s.chunks, make([]Entry, 0, memChunk))
			n++
		}
		k := min(len(ents), memChunk-len(s.chunks[n-1]))
		s.chunks[n-1] = append(s.chunks[n-1], ents[:k]...)
		ents = ents[k:]
	}
	return nil
}

// truncateAfter drops the entries after index j >= first-1, copying the
// kept part of the chunk it cuts.
func (s *MemoryStorage) truncateAfter(j uint64) {
	if j+1 == s.first && s.first-s.base == 0 || len(s.chunks) == 0 {
		s.chunks, s.base = nil, j+1
		return
	}
	off := j + 1 - s.base
	k, r := off/memChunk, off%memChunk
	for i := k; i < uint64(len(s.chunks)); i++ {
		if i > k || r == 0 {
			s.chunks[i] = nil
		}
	}
	if r == 0 {
		s.chunks = s.chunks[:k]
		return
	}
	kept := make([]Entry, r, memChunk)
	copy(kept, s.chunks[k][:r])
	s.chunks = append(s.chunks[:k], kept)
}

// ApplySnapshot replaces the whole log by the snapshot meta describes.
func (s *MemoryStorage) ApplySnapshot(meta SnapshotMeta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap = SnapshotMeta{Index: meta.Index, Term: meta.Term, Membership: meta.Membership.clone()}
	s.first, s.base, s.chunks = meta.Index+1, meta.Index+1, nil
}

// Compact records a snapshot at index, with membership m, and drops the
// entries up to it. index must be a persisted entry.
func (s *MemoryStorage) Compact(index uint64, m Membership) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index < s.first {
		return nil
	}
	if index > s.last() {
		return fmt.Errorf("%w: compact to %d beyond last index %d", ErrUnavailable, index, s.last())
	}
	s.snap = SnapshotMeta{Index: index, Term: s.at(index).Term, Membership: m.clone()}
	s.first = index + 1
	for len(s.chunks) > 0 && s.first-s.base >= memChunk {
		s.chunks[0] = nil
		s.chunks = s.chunks[1:]
		s.base += memChunk
	}
	if len(s.chunks) > 0 && s.first > s.last() && len(s.chunks[len(s.chunks)-1]) < memChunk {
		// Everything kept is compacted and the tail chunk has room: start
		// over aligned at first.
		s.chunks, s.base = nil, s.first
	}
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
