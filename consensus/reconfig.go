package consensus

import "fmt"

// Membership changes take effect when their entry commits, on every node
// as it learns the commit; the entry carries the whole resulting
// membership, so every node's view is the same whatever it started from. Because a change adds or removes one voter, a
// majority of the old voters and one of the new always overlap, so nodes
// that have not learned of the commit yet cannot elect a second leader.
// At most one change is in the log uncommitted at a time, and a leader
// proposes one only after committing an entry of its own term (the fix to
// the single-server change bug, raft-dev 2015).

// ProposeMembership proposes change and returns the index of its entry.
func (c *Core) ProposeMembership(change MembershipChange) (index uint64, err error) {
	if c.err != nil {
		return 0, c.err
	}
	defer c.recoverFailure(&err)
	switch {
	case c.role != Leader:
		return 0, ErrNotLeader
	case c.transferee != 0:
		return 0, ErrTransferring
	case len(c.log.memberIdx) > 0 || !c.committedInTerm():
		return 0, ErrMembershipPending
	}
	// No change is pending, so the membership in force is the newest in
	// the log, and the result is exact.
	result, err := c.members.apply(change)
	if err != nil {
		return 0, err
	}
	rec := MembershipEntry{Change: change, Result: result}
	ents := []Entry{{Type: EntryMembership, Data: rec.Encode(nil)}}
	index = c.appendLocal(ents)
	c.bcastAppend(false)
	return index, nil
}

// activateMembership applies every membership entry the commit index
// passed.
func (c *Core) activateMembership() {
	for len(c.log.memberIdx) > 0 && c.log.memberIdx[0] <= c.log.committed {
		i := c.log.memberIdx[0]
		c.log.memberIdx = c.log.memberIdx[1:]
		c.applyMembershipEntry(i)
	}
}

func (c *Core) applyMembershipEntry(i uint64) {
	ents, err := c.log.entries(i, i+1, 1)
	if err != nil {
		panic(storageFailure{fmt.Errorf("membership entry %d: %w", i, err)})
	}
	rec, err := DecodeMembershipEntry(ents[0].Data)
	if err != nil {
		fatalf("membership entry %d: %v", i, err)
	}
	next := rec.Result
	c.setMembers(next)
	if c.role != Leader {
		return
	}
	if !next.isVoter(c.id) {
		// A leader that removed itself steps down, after telling the
		// others the change committed; they elect a leader among
		// themselves.
		c.bcastAppend(true)
		c.becomeFollower(c.term, 0)
		return
	}
	if c.transferee != 0 && !next.isVoter(c.transferee) {
		c.abortTransfer()
	}
	// A smaller quorum may commit more, a new member needs the log.
	if c.maybeCommit() {
		c.bcastAppend(true)
	} else {
		c.bcastAppend(false)
	}
}

// setMembers makes m the membership in force, keeping the progress of
// members that stay.
func (c *Core) setMembers(m Membership) {
	c.members = m
	last := c.log.lastIndex()
	prs := make([]*progress, 0, len(m.Voters)+len(m.Learners))
	add := func(id uint64, learner bool) {
		pr := c.progress(id)
		if pr == nil {
			pr = &progress{id: id, next: last + 1, recentActive: true,
				inflight: newInflights(c.cfg.InflightMsgsMax, c.cfg.InflightBytesMax)}
		}
		pr.learner = learner
		prs = append(prs, pr)
	}
	for _, id := range m.Voters {
		add(id, false)
	}
	for _, id := range m.Learners {
		add(id, true)
	}
	sortProgress(prs)
	c.prs = prs
}

func sortProgress(prs []*progress) {
	for i := 1; i < len(prs); i++ {
		for j := i; j > 0 && prs[j].id < prs[j-1].id; j-- {
			prs[j], prs[j-1] = prs[j-1], prs[j]
		}
	}
}

// replayMembership rebuilds, at start, the membership from the log:
// changes already committed take effect, later ones wait for their commit.
// It reads the whole log once, which compaction keeps bounded.
func (c *Core) replayMembership() error {
	c.setMembers(c.members)
	first, last := c.log.firstIndex(), c.log.lastIndex()
	for lo := first; lo <= last; {
		ents, err := c.log.entries(lo, last+1, 1<<20)
		if err != nil {
			return fmt.Errorf("consensus: node %d: replaying membership from %d: %w", c.id, lo, err)
		}
		c.log.noteMembership(ents)
		lo = ents[len(ents)-1].Index + 1
	}
	c.activateMembership()
	return nil
}
