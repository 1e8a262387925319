package consensus

// readTracker holds the ReadIndex requests a leader has not confirmed yet.
//
// A read is served at the commit index the leader had when the read
// arrived, once a quorum has acknowledged a heartbeat round started after
// it arrived: then no other leader can have committed anything newer. All
// reads that arrive before the next Ready share one round.
type readTracker struct {
	// awaitingCommit wait for the leader's first entry of its term to
	// commit: until then its commit index may lag its predecessor's.
	awaitingCommit []pendingRead
	// pending wait for a quorum to acknowledge their round; in arrival
	// order, so rounds are non-decreasing.
	pending []pendingRead
	// roundOpen is set when pending reads wait for a round whose
	// heartbeats have not been sent yet; Ready sends them.
	roundOpen bool
}

type pendingRead struct {
	from    uint64 // the node that asked; the leader itself for local reads
	context uint64
	index   uint64
	round   uint64
}

// ReadIndex asks for the index a linearizable read with context must wait
// for the state machine to apply; the answer arrives as a ReadState in a
// later Ready. A follower asks its leader (a follower read).
func (c *Core) ReadIndex(context uint64) (err error) {
	if c.err != nil {
		return c.err
	}
	defer c.recoverFailure(&err)
	switch {
	case c.role == Leader:
		c.readIndex(c.id, context)
	case c.lead == 0:
		return ErrNoLeader
	default:
		c.send(Message{Type: MsgReadIndex, To: c.lead, Context: context})
	}
	return nil
}

func (c *Core) readIndex(from, context uint64) {
	r := pendingRead{from: from, context: context}
	if !c.committedInTerm() {
		c.reads.awaitingCommit = append(c.reads.awaitingCommit, r)
		return
	}
	c.registerRead(r)
}

// committedInTerm reports whether the leader committed an entry of its own
// term.
func (c *Core) committedInTerm() bool {
	return c.log.termOr0(c.log.committed) == c.term
}

func (c *Core) registerRead(r pendingRead) {
	r.index = c.log.committed
	if c.quorum() == 1 && c.members.isVoter(c.id) {
		c.deliverRead(r)
		return
	}
	if !c.reads.roundOpen {
		c.lease.startRound(c)
		c.reads.roundOpen = true
	}
	r.round = c.lease.round
	c.reads.pending = append(c.reads.pending, r)
}

// flushReadRound sends the heartbeats of a round opened by reads.
func (c *Core) flushReadRound() {
	if c.reads.roundOpen {
		c.reads.roundOpen = false
		if c.role == Leader {
			c.bcastHeartbeat()
		}
	}
}

// advanceReads delivers every read whose round a quorum acknowledged.
func (c *Core) advanceReads() {
	if len(c.reads.pending) == 0 {
		return
	}
	acked := c.quorumValue(func(pr *progress) uint64 { return pr.ackedRound })
	n := 0
	for _, r := range c.reads.pending {
		if r.round > acked {
			break
		}
		c.deliverRead(r)
		n++
	}
	c.reads.pending = c.reads.pending[n:]
	if len(c.reads.pending) == 0 {
		c.reads.pending = nil
	}
}

func (c *Core) deliverRead(r pendingRead) {
	if r.from == c.id {
		c.readStates = append(c.readStates, ReadState{Index: r.index, Context: r.context})
		return
	}
	c.send(Message{Type: MsgReadIndexResp, To: r.from, Index: r.index, Context: r.context})
}

func (t *readTracker) releaseAwaitingCommit(c *Core) {
	if len(t.awaitingCommit) == 0 || !c.committedInTerm() {
		return
	}
	waiting := t.awaitingCommit
	t.awaitingCommit = nil
	for _, r := range waiting {
		c.registerRead(r)
	}
}

// dropAll fails every read not yet confirmed, when leadership is lost:
// local ones come back as dropped ReadStates, a follower's as a rejection.
func (t *readTracker) dropAll(c *Core) {
	for _, list := range [][]pendingRead{t.awaitingCommit, t.pending} {
		for _, r := range list {
			if r.from == c.id {
				c.readStates = append(c.readStates, ReadState{Context: r.context, Dropped: true})
			} else {
				c.send(Message{Type: MsgReadIndexResp, To: r.from, Context: r.context, Reject: true})
			}
		}
	}
	t.awaitingCommit, t.pending, t.roundOpen = nil, nil, false
}
