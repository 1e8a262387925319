package consensus

import "slices"

// unstable holds what a node has accepted but the stages have not yet
// acknowledged as persisted: a snapshot to install, and the entries that
// follow the persisted log. Slices of entries handed to a Ready or a
// message are never written again: a truncation copies.
type unstable struct {
	// snapshot, if set, replaces the whole persisted log once persisted.
	snapshot       *SnapshotMeta
	snapshotHanded bool // snapshot already given to a Ready
	entries        []Entry
	// offset is the index of entries[0], and always the last persisted
	// index plus one. Invariant: offset > snapshot.Index when set.
	offset uint64
	// handedTo is the last index handed to a Ready for persisting.
	// Invariant: offset-1 <= handedTo <= lastIndex.
	handedTo uint64
}

func (u *unstable) maybeFirstIndex() (uint64, bool) {
	if u.snapshot != nil {
		return u.snapshot.Index + 1, true
	}
	return 0, false
}

func (u *unstable) maybeLastIndex() (uint64, bool) {
	if n := len(u.entries); n > 0 {
		return u.offset + uint64(n) - 1, true
	}
	if u.snapshot != nil {
		return u.snapshot.Index, true
	}
	return 0, false
}

func (u *unstable) maybeTerm(i uint64) (uint64, bool) {
	if i < u.offset {
		if u.snapshot != nil && u.snapshot.Index == i {
			return u.snapshot.Term, true
		}
		return 0, false
	}
	last, ok := u.maybeLastIndex()
	if !ok || i > last {
		return 0, false
	}
	return u.entries[i-u.offset].Term, true
}

// unhanded returns the entries not yet handed to a Ready and marks them
// handed.
func (u *unstable) unhanded() []Entry {
	if u.handedTo+1 < u.offset {
		u.handedTo = u.offset - 1
	}
	from := u.handedTo + 1 - u.offset
	if from >= uint64(len(u.entries)) {
		return nil
	}
	ents := u.entries[from:len(u.entries):len(u.entries)]
	u.handedTo = u.offset + uint64(len(u.entries)) - 1
	return ents
}

func (u *unstable) hasUnhanded() bool {
	return (u.snapshot != nil && !u.snapshotHanded) ||
		u.handedTo+1 < u.offset+uint64(len(u.entries)) && len(u.entries) > 0
}

// stableTo drops the entries up to index i, which the stages persisted,
// unless the entry at i has since been replaced by one of another term.
func (u *unstable) stableTo(i, term uint64) {
	t, ok := u.maybeTerm(i)
	if !ok || t != term || i < u.offset {
		return
	}
	n := i + 1 - u.offset
	u.entries = u.entries[n:]
	u.offset = i + 1
}

func (u *unstable) stableSnapTo(i uint64) {
	if u.snapshot != nil && u.snapshot.Index == i {
		u.snapshot = nil
		u.snapshotHanded = false
	}
}

func (u *unstable) restore(s SnapshotMeta) {
	u.snapshot = &s
	u.snapshotHanded = false
	u.entries = nil
	u.offset = s.Index + 1
	u.handedTo = s.Index
}

// truncateAndAppend appends ents, first dropping whatever they overwrite.
func (u *unstable) truncateAndAppend(ents []Entry) {
	after := ents[0].Index
	switch {
	case after == u.offset+uint64(len(u.entries)):
		if len(u.entries)+len(ents) > cap(u.entries) {
			// Grow by hand: append would size the new array by the few
			// live entries left after stableTo and reallocate every batch.
			// Room for 8 batches amortizes it; an idle group stays small.
			grown := make([]Entry, len(u.entries), max(2*(len(u.entries)+len(ents)), 8*len(ents)))
			copy(grown, u.entries)
			u.entries = grown
		}
		u.entries = append(u.entries, ents...)
	case after <= u.offset:
		// Replaces every unstable entry; the persisted ones from after on
		// are overwritten when these are persisted.
		u.offset = after
		u.entries = slices.Clone(ents)
	default:
		kept := u.entries[:after-u.offset]
		u.entries = append(slices.Clip(slices.Clone(kept)), ents...)
	}
	if u.handedTo >= after {
		u.handedTo = after - 1
	}
}
