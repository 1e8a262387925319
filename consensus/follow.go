package consensus

// handleAppend is a follower's side of replication. An acceptance leaves
// only once the entries are persisted: the leader counts it toward a
// quorum, so it must survive this node's crash.
func (c *Core) handleAppend(m Message) {
	if m.Index < c.log.committed {
		c.sendAfterPersist(Message{Type: MsgAppResp, To: m.From, Index: c.log.committed, Round: m.Round})
		return
	}
	if lastNew, ok := c.log.maybeAppend(m.Index, m.LogTerm, m.Entries); ok {
		if c.log.commitTo(min(m.Commit, lastNew)) {
			c.onCommit()
		}
		c.sendAfterPersist(Message{Type: MsgAppResp, To: m.From, Index: lastNew, Round: m.Round})
		return
	}
	// Hint: our last entry at or before the rejected index whose term is
	// no newer than the leader's entry there. The leader skips back to it
	// in one round trip, across a whole term of conflicting entries.
	hint, hintTerm := c.log.findConflictByTerm(min(m.Index, c.log.lastIndex()), m.LogTerm)
	c.send(Message{Type: MsgAppResp, To: m.From, Index: m.Index, Reject: true,
		RejectHint: hint, LogTerm: hintTerm, Round: m.Round})
}

func (c *Core) handleHeartbeat(m Message) {
	if c.log.commitTo(min(m.Commit, c.log.lastIndex())) {
		c.onCommit()
	}
	c.send(Message{Type: MsgHeartbeatResp, To: m.From, Round: m.Round})
}

// handleSnapshot installs a snapshot newer than what this node committed,
// unless its log already holds the snapshot's last entry.
func (c *Core) handleSnapshot(m Message) {
	s := *m.Snapshot
	switch {
	case s.Index <= c.log.committed:
		c.sendAfterPersist(Message{Type: MsgAppResp, To: m.From, Index: c.log.committed})
	case c.log.matchTerm(s.Index, s.Term):
		c.log.commitTo(s.Index)
		c.onCommit()
		c.sendAfterPersist(Message{Type: MsgAppResp, To: m.From, Index: s.Index})
	default:
		s.Membership = s.Membership.clone()
		c.log.unstable.restore(s)
		c.log.committed = s.Index
		c.log.memberIdx = c.log.memberIdx[:0]
		c.setMembers(s.Membership)
		c.sendAfterPersist(Message{Type: MsgAppResp, To: m.From, Index: s.Index})
	}
}
