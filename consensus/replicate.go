package consensus

import "errors"

// bcastAppend sends each follower what it is missing, as many appends as
// its inflight window allows. With sendIfEmpty, a follower with nothing
// missing still gets an empty append carrying the new commit index.
func (c *Core) bcastAppend(sendIfEmpty bool) {
	for _, pr := range c.prs {
		if pr.id != c.id {
			c.sendAppends(pr, sendIfEmpty)
		}
	}
}

// sendAppends pipelines appends to pr until its window is full or it has
// everything.
func (c *Core) sendAppends(pr *progress, sendIfEmpty bool) {
	if !c.maybeSendAppend(pr, sendIfEmpty) {
		return
	}
	for pr.state == replicate && pr.next <= c.log.lastIndex() && c.maybeSendAppend(pr, false) {
	}
}

// maybeSendAppend sends one append to pr, or a snapshot when the entries
// it needs are compacted. It reports whether it sent anything.
func (c *Core) maybeSendAppend(pr *progress, sendIfEmpty bool) bool {
	if pr.paused() {
		return false
	}
	prev := pr.next - 1
	prevTerm, err := c.log.term(prev)
	if err != nil {
		return c.sendSnapshot(pr, err)
	}
	var ents []Entry
	if last := c.log.lastIndex(); pr.next <= last {
		hi := min(last+1, pr.next+uint64(c.cfg.MsgEntriesMax))
		ents, err = c.log.entries(pr.next, hi, c.cfg.MsgBytesMax)
		if err != nil {
			return c.sendSnapshot(pr, err)
		}
	}
	if len(ents) == 0 && !sendIfEmpty {
		return false
	}
	bytes := uint64(0)
	for i := range ents {
		bytes += ents[i].size()
	}
	c.send(Message{
		Type:    MsgApp,
		To:      pr.id,
		Index:   prev,
		LogTerm: prevTerm,
		Entries: ents,
		Commit:  c.log.committed,
		Round:   c.lease.round,
	})
	pr.sentEntries(prev+uint64(len(ents)), bytes, len(ents))
	return true
}

// sendSnapshot starts sending the newest snapshot to pr, whose next entry
// the log no longer holds.
func (c *Core) sendSnapshot(pr *progress, cause error) bool {
	if !errors.Is(cause, ErrCompacted) {
		panic(storageFailure{cause})
	}
	if !pr.recentActive {
		// Not while it seems down: snapshots are expensive.
		return false
	}
	snap, err := c.log.storage.Snapshot()
	if err != nil {
		panic(storageFailure{err})
	}
	if snap.IsZero() {
		fatalf("entries from %d compacted, but storage has no snapshot", pr.next)
	}
	pr.becomeSnapshot(snap.Index)
	c.send(Message{Type: MsgSnap, To: pr.id, Snapshot: &snap})
	return true
}

func (c *Core) handleAppendResponse(pr *progress, m Message) {
	if m.Reject {
		// The hint names the follower's last entry of a term no newer than
		// the rejected one's; our last entry of a term no newer than that
		// is where the logs may match. One round trip per term, not per
		// entry.
		next := m.RejectHint
		if m.LogTerm > 0 {
			next, _ = c.log.findConflictByTerm(m.RejectHint, m.LogTerm)
		}
		if pr.maybeDecrTo(m.Index, next) {
			if pr.state == replicate {
				pr.becomeProbe()
			}
			c.sendAppends(pr, true)
		}
		return
	}
	oldPaused := pr.paused()
	if !pr.maybeUpdate(m.Index) && !(pr.state == probe && pr.match == m.Index) {
		return
	}
	switch {
	case pr.state == probe:
		pr.becomeReplicate()
	case pr.state == snapshot && pr.match >= pr.pendingSnapshot:
		pr.becomeProbe()
		pr.becomeReplicate()
	case pr.state == replicate:
		pr.inflight.freeLE(m.Index)
	}
	if c.maybeCommit() {
		if c.role == Leader { // not if the commit removed this leader
			c.bcastAppend(true)
		}
	} else if pr.id != c.id {
		c.sendAppends(pr, oldPaused)
	}
	if c.role == Leader && pr.id == c.transferee && pr.match == c.log.lastIndex() {
		c.sendTimeoutNow(pr.id)
	}
}

func (c *Core) handleHeartbeatResponse(pr *progress) {
	pr.probeSent = false
	if pr.state == replicate && pr.inflight.full() {
		// Answers to a whole window may have been lost; free one slot so
		// the pipeline restarts instead of waiting forever.
		pr.inflight.freeFirst()
	}
	if pr.match < c.log.lastIndex() {
		c.sendAppends(pr, true)
	}
	c.advanceReads()
}

// maybeCommit advances the commit index to what a quorum has persisted,
// counting only entries of the current term (Raft §5.4.2): an older entry
// commits by being before one of ours.
func (c *Core) maybeCommit() bool {
	mci := c.quorumValue(func(pr *progress) uint64 { return pr.match })
	if mci <= c.log.committed || c.log.termOr0(mci) != c.term {
		return false
	}
	c.log.commitTo(mci)
	c.onCommit()
	return true
}

// onCommit runs whatever waits for the commit index, in any role.
func (c *Core) onCommit() {
	c.activateMembership()
	if c.role == Leader {
		c.uncommitted.committedTo(c.log.committed)
		c.reads.releaseAwaitingCommit(c)
	}
}

// bcastHeartbeat sends every follower the current round. The commit index
// is capped at what the follower is known to hold, so it never commits an
// entry it may not have.
func (c *Core) bcastHeartbeat() {
	for _, pr := range c.prs {
		if pr.id == c.id {
			continue
		}
		c.send(Message{
			Type:   MsgHeartbeat,
			To:     pr.id,
			Commit: min(pr.match, c.log.committed),
			Round:  c.lease.round,
		})
	}
}
