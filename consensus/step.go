package consensus

import "fmt"

// Step hands the Core a message received from a peer. A message for
// another node, or from an unknown type, is refused with an error; a stale
// one is dropped silently, as Raft expects.
func (c *Core) Step(m Message) (err error) {
	if c.err != nil {
		return c.err
	}
	switch {
	case m.To != c.id:
		return fmt.Errorf("consensus: node %d: message for node %d", c.id, m.To)
	case !m.Type.Valid():
		return fmt.Errorf("consensus: node %d: unknown message type %d", c.id, uint8(m.Type))
	case m.From == 0 || m.From == c.id:
		return fmt.Errorf("consensus: node %d: %s from node %d", c.id, m.Type, m.From)
	case m.Type == MsgSnap && m.Snapshot == nil:
		return fmt.Errorf("consensus: node %d: MsgSnap without snapshot", c.id)
	}
	defer c.recoverFailure(&err)
	c.step(m)
	return nil
}

func (c *Core) step(m Message) {
	switch {
	case m.Term > c.term:
		if m.Type == MsgVote || m.Type == MsgPreVote {
			// While it hears from a leader, a node ignores campaigns: a
			// partitioned node rejoining cannot depose a healthy leader,
			// and the leader's lease holds. A transfer forces it.
			if !m.Force && c.inLease() {
				return
			}
		}
		switch {
		case m.Type == MsgPreVote:
			// A pre-vote changes nobody's term.
		case m.Type == MsgPreVoteResp && !m.Reject:
			// Granted pre-votes carry the term the campaign would have.
		default:
			lead := uint64(0)
			if m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap {
				lead = m.From
			}
			c.becomeFollower(m.Term, lead)
		}
	case m.Term < c.term:
		switch m.Type {
		case MsgApp, MsgHeartbeat:
			// A deposed leader learns our term and steps down; without
			// this, pre-vote could leave it stranded in its old term.
			c.send(Message{Type: MsgAppResp, To: m.From})
		case MsgPreVote:
			c.send(Message{Type: MsgPreVoteResp, To: m.From, Reject: true})
		}
		return
	}

	switch m.Type {
	case MsgPreVote, MsgVote:
		c.handleVote(m)
		return
	}
	switch c.role {
	case Leader:
		c.stepLeader(m)
	case Candidate, PreCandidate:
		c.stepCandidate(m)
	default:
		c.stepFollower(m)
	}
}

// inLease reports whether this node heard from a leader within an
// election timeout, or is the leader.
func (c *Core) inLease() bool {
	return c.role == Leader || c.now-c.lastLeaderContact < uint64(c.cfg.ElectionTicks)
}

func (c *Core) stepFollower(m Message) {
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgSnap:
		c.heardFromLeader(m.From)
		switch m.Type {
		case MsgApp:
			c.handleAppend(m)
		case MsgHeartbeat:
			c.handleHeartbeat(m)
		default:
			c.handleSnapshot(m)
		}
	case MsgTimeoutNow:
		if c.promotable() {
			c.campaign(campaignTransfer)
		}
	case MsgReadIndexResp:
		c.readStates = append(c.readStates, ReadState{Index: m.Index, Context: m.Context, Dropped: m.Reject})
	case MsgReadIndex:
		// Only a leader answers; the asker retries elsewhere.
		c.send(Message{Type: MsgReadIndexResp, To: m.From, Context: m.Context, Reject: true})
	}
}

func (c *Core) heardFromLeader(from uint64) {
	c.electionElapsed = 0
	c.lead = from
	c.lastLeaderContact = c.now
}

func (c *Core) stepCandidate(m Message) {
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgSnap:
		// A leader of our term exists: we lost.
		c.becomeFollower(m.Term, m.From)
		c.stepFollower(m)
	case MsgPreVoteResp:
		if c.role == PreCandidate {
			c.recordVote(m.From, !m.Reject)
		}
	case MsgVoteResp:
		if c.role == Candidate {
			c.recordVote(m.From, !m.Reject)
		}
	case MsgReadIndex:
		c.send(Message{Type: MsgReadIndexResp, To: m.From, Context: m.Context, Reject: true})
	}
}

func (c *Core) stepLeader(m Message) {
	pr := c.progress(m.From)
	if pr == nil {
		return // not a member (any more)
	}
	switch m.Type {
	case MsgAppResp:
		pr.recentActive = true
		c.lease.ack(pr, m.Round)
		c.handleAppendResponse(pr, m)
	case MsgHeartbeatResp:
		pr.recentActive = true
		c.lease.ack(pr, m.Round)
		c.handleHeartbeatResponse(pr)
	case MsgReadIndex:
		pr.recentActive = true
		c.readIndex(m.From, m.Context)
	}
}
