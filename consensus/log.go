package consensus

import (
	"errors"
	"fmt"
)

// raftLog is a node's view of the log: the persisted part, read through
// Storage, followed by the unstable part in memory.
type raftLog struct {
	storage  Storage
	unstable unstable
	// committed is the highest index known committed. It never decreases.
	committed uint64
	// applying is the highest index handed out to be applied, applied the
	// highest acknowledged. Invariant: applied <= applying <= committed.
	applying uint64
	applied  uint64
	// memberIdx lists the membership entries after committed, ascending.
	memberIdx []uint64
}

func newLog(s Storage, applied uint64) (*raftLog, error) {
	first, err := s.FirstIndex()
	if err != nil {
		return nil, err
	}
	last, err := s.LastIndex()
	if err != nil {
		return nil, err
	}
	if applied < first-1 {
		// The state machine is older than the log's start: the entries it
		// needs are gone, and only a snapshot could catch it up.
		return nil, fmt.Errorf("%w: applied index %d is below the log's first index %d", ErrCorruptState, applied, first)
	}
	l := &raftLog{storage: s}
	l.unstable.offset = last + 1
	l.unstable.handedTo = last
	l.committed = first - 1
	l.applying, l.applied = first-1, first-1
	return l, nil
}

func (l *raftLog) firstIndex() uint64 {
	if i, ok := l.unstable.maybeFirstIndex(); ok {
		return i
	}
	i, err := l.storage.FirstIndex()
	if err != nil {
		panic(storageFailure{err})
	}
	return i
}

func (l *raftLog) lastIndex() uint64 {
	if i, ok := l.unstable.maybeLastIndex(); ok {
		return i
	}
	i, err := l.storage.LastIndex()
	if err != nil {
		panic(storageFailure{err})
	}
	return i
}

// stableIndex is the last index the stages acknowledged as persisted, or 0
// while a snapshot waits to be persisted.
func (l *raftLog) stableIndex() uint64 {
	if l.unstable.snapshot != nil {
		return 0
	}
	return l.unstable.offset - 1
}

// term returns the term of the entry at i; ErrCompacted and ErrUnavailable
// say i is outside the log. Other storage errors are fatal.
func (l *raftLog) term(i uint64) (uint64, error) {
	if t, ok := l.unstable.maybeTerm(i); ok {
		return t, nil
	}
	if i+1 < l.firstIndex() {
		return 0, ErrCompacted
	}
	if i > l.lastIndex() {
		return 0, ErrUnavailable
	}
	t, err := l.storage.Term(i)
	if err != nil && !errors.Is(err, ErrCompacted) && !errors.Is(err, ErrUnavailable) {
		panic(storageFailure{err})
	}
	return t, err
}

// termOr returns the term at i, or 0 when i is outside the log.
func (l *raftLog) termOr0(i uint64) uint64 {
	t, err := l.term(i)
	if err != nil {
		return 0
	}
	return t
}

func (l *raftLog) lastTerm() uint64 { return l.termOr0(l.lastIndex()) }

func (l *raftLog) matchTerm(i, term uint64) bool {
	t, err := l.term(i)
	return err == nil && t == term
}

// isUpToDate reports whether a log ending at (index, term) is at least as
// up to date as this one (Raft §5.4.1).
func (l *raftLog) isUpToDate(index, term uint64) bool {
	last := l.lastTerm()
	return term > last || term == last && index >= l.lastIndex()
}

// findConflict returns the index of the first of ents whose term differs
// from the log's, or 0 when all of them match.
func (l *raftLog) findConflict(ents []Entry) uint64 {
	for i := range ents {
		if !l.matchTerm(ents[i].Index, ents[i].Term) {
			return ents[i].Index
		}
	}
	return 0
}

// findConflictByTerm returns the largest index <= index whose term is <=
// term, with that term: the hint that lets a probe skip a whole term.
func (l *raftLog) findConflictByTerm(index, term uint64) (uint64, uint64) {
	for ; index > 0; index-- {
		t, err := l.term(index)
		if err != nil {
			return index, 0
		}
		if t <= term {
			return index, t
		}
	}
	return 0, 0
}

// maybeAppend appends ents after (index, logTerm) if the log matches
// there, returning the new last index of the appended span.
func (l *raftLog) maybeAppend(index, logTerm uint64, ents []Entry) (uint64, bool) {
	if !l.matchTerm(index, logTerm) {
		return 0, false
	}
	lastNew := index + uint64(len(ents))
	ci := l.findConflict(ents)
	switch {
	case ci == 0:
	case ci <= l.committed:
		fatalf("entry %d conflicts with a committed entry (committed %d)", ci, l.committed)
	default:
		l.append(ents[ci-(index+1):])
	}
	return lastNew, true
}

func (l *raftLog) append(ents []Entry) uint64 {
	if len(ents) == 0 {
		return l.lastIndex()
	}
	if after := ents[0].Index - 1; after < l.committed {
		fatalf("append after %d is below committed %d", after, l.committed)
	}
	l.unstable.truncateAndAppend(ents)
	l.noteMembership(ents)
	return l.lastIndex()
}

func (l *raftLog) commitTo(i uint64) bool {
	if i <= l.committed {
		return false
	}
	if last := l.lastIndex(); i > last {
		fatalf("commit %d beyond last index %d", i, last)
	}
	l.committed = i
	return true
}

// entries returns the entries in [lo, hi), cut after maxBytes but never
// empty when lo < hi.
func (l *raftLog) entries(lo, hi, maxBytes uint64) ([]Entry, error) {
	if lo >= hi {
		return nil, nil
	}
	if lo < l.firstIndex() {
		return nil, ErrCompacted
	}
	if hi > l.lastIndex()+1 {
		return nil, ErrUnavailable
	}
	u := l.unstable.offset
	var stored []Entry
	if lo < u {
		var err error
		stored, err = l.storage.Entries(lo, min(hi, u), maxBytes)
		if err != nil {
			if errors.Is(err, ErrCompacted) {
				return nil, err
			}
			panic(storageFailure{err})
		}
		if got := uint64(len(stored)); got < min(hi, u)-lo || hi <= u {
			return stored, nil // cut by size, or all of it was persisted
		}
	}
	from := max(lo, u)
	ents := l.unstable.entries[from-u : hi-u]
	if len(stored) == 0 {
		return limitSize(ents, maxBytes), nil
	}
	size := uint64(0)
	for i := range stored {
		size += stored[i].size()
	}
	n := 0
	for n < len(ents) && size+ents[n].size() <= maxBytes {
		size += ents[n].size()
		n++
	}
	if n == 0 {
		return stored, nil
	}
	out := make([]Entry, 0, len(stored)+n)
	return append(append(out, stored...), ents[:n]...), nil
}

// nextCommitted returns up to maxBytes of the committed entries not yet
// handed out, only from the persisted part: an entry is applied only once
// it is durable here too, so the state machine never runs ahead of the log.
func (l *raftLog) nextCommitted(maxBytes uint64) []Entry {
	hi := min(l.committed, l.stableIndex())
	if l.applying >= hi {
		return nil
	}
	ents, err := l.entries(l.applying+1, hi+1, maxBytes)
	if err != nil {
		panic(storageFailure{fmt.Errorf("committed entries [%d, %d]: %w", l.applying+1, hi, err)})
	}
	return ents
}

func (l *raftLog) hasNextCommitted() bool {
	return l.applying < min(l.committed, l.stableIndex())
}

// noteMembership records the membership entries among ents, forgetting any
// recorded at or after ents[0], which ents replace.
func (l *raftLog) noteMembership(ents []Entry) {
	if len(ents) == 0 {
		return
	}
	n := len(l.memberIdx)
	for n > 0 && l.memberIdx[n-1] >= ents[0].Index {
		n--
	}
	l.memberIdx = l.memberIdx[:n]
	for i := range ents {
		if ents[i].Type == EntryMembership {
			l.memberIdx = append(l.memberIdx, ents[i].Index)
		}
	}
}
