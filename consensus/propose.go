package consensus

// Propose appends ents to the leader's log and sends them to the followers
// at once, before the leader's own copy is persisted. It fills in each
// entry's Term and Index (ents[i].Type must be EntryNormal) and returns the
// term and the index of the first one: the entries commit at exactly these
// positions or not at all.
//
// Beyond Config.UncommittedBytesMax it returns ErrUncommittedFull, which
// clears as entries commit; a batch proposed while nothing is uncommitted
// is taken whatever its size, so no batch is refused forever.
func (c *Core) Propose(ents []Entry) (term, first uint64, err error) {
	if c.err != nil {
		return 0, 0, c.err
	}
	defer c.recoverFailure(&err)
	switch {
	case c.role != Leader:
		return 0, 0, ErrNotLeader
	case c.transferee != 0:
		return 0, 0, ErrTransferring
	case len(ents) == 0:
		return c.term, 0, nil
	}
	size := uint64(0)
	for i := range ents {
		if ents[i].Type != EntryNormal {
			return 0, 0, ErrInvalidEntryType
		}
		size += ents[i].size()
	}
	if !c.uncommitted.admit(size, c.cfg.UncommittedBytesMax) {
		return 0, 0, ErrUncommittedFull
	}
	first = c.log.lastIndex() + 1
	last := c.appendLocal(ents)
	c.uncommitted.add(last, size)
	c.bcastAppend(false)
	return c.term, first, nil
}

// uncommittedTracker counts the bytes a leader proposed in its term and
// not yet committed: a running total per proposal, popped as commits pass.
type uncommittedTracker struct {
	bytes uint64
	marks []uncommittedMark // in index order
}

type uncommittedMark struct {
	last  uint64
	bytes uint64
}

func (u *uncommittedTracker) admit(size, limit uint64) bool {
	return u.bytes == 0 || u.bytes+size <= limit
}

func (u *uncommittedTracker) add(last, size uint64) {
	u.bytes += size
	u.marks = append(u.marks, uncommittedMark{last, size})
}

func (u *uncommittedTracker) committedTo(index uint64) {
	n := 0
	for _, m := range u.marks {
		if m.last > index {
			break
		}
		u.bytes -= m.bytes
		n++
	}
	u.marks = append(u.marks[:0], u.marks[n:]...)
}

func (u *uncommittedTracker) reset() {
	u.bytes = 0
	u.marks = u.marks[:0]
}
