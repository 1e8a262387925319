package consensus

// roundWindow is how many recent rounds remember their start tick. An
// acknowledgement of an older round still confirms reads but no longer
// extends the lease.
const roundWindow = 256

// leaseTracker numbers a leader's heartbeat rounds and keeps its lease.
//
// A follower that hears from the leader resets its election timer and
// refuses votes for an election timeout (inLease). So once a quorum has
// acknowledged a round started at tick t, no other leader can be elected
// before t+ElectionTicks on those followers' clocks; the leader holds a
// lease until t+ElectionTicks-LeaseDriftTicks on its own. Appends carry
// the round too, so committed writes renew the lease like heartbeats do.
type leaseTracker struct {
	// round is the current round; every append and heartbeat carries it.
	round uint64
	// started[r%roundWindow] is the start tick of round r, if still known.
	started [roundWindow]roundStart
	// forfeited is set once a MsgTimeoutNow left in this term: its target
	// may win a forced election at any time after, so no lease may be
	// trusted again in this term.
	forfeited bool
}

type roundStart struct {
	round, tick uint64
}

func (l *leaseTracker) reset() { l.forfeited = false }

// startRound opens a new round at the current tick; the leader
// acknowledges it itself at once.
func (l *leaseTracker) startRound(c *Core) {
	l.round++
	l.started[l.round%roundWindow] = roundStart{l.round, c.now}
	if pr := c.progress(c.id); pr != nil {
		pr.ackedRound, pr.ackedTick = l.round, c.now
	}
}

// ack records that pr acknowledged round.
func (l *leaseTracker) ack(pr *progress, round uint64) {
	if round <= pr.ackedRound {
		return
	}
	pr.ackedRound = round
	if s := l.started[round%roundWindow]; s.round == round {
		pr.ackedTick = max(pr.ackedTick, s.tick)
	}
}

// leaseExpiry returns the tick before which the leader's lease holds, or 0
// when it holds none: not a leader, no entry of its term committed yet (its
// state may lag its predecessor's), or a transfer started.
func (c *Core) leaseExpiry() uint64 {
	if c.role != Leader || c.transferee != 0 || c.lease.forfeited || !c.committedInTerm() {
		return 0
	}
	if c.quorum() == 1 && c.members.isVoter(c.id) {
		// Nobody else can be elected while this node lives.
		return c.now + uint64(c.cfg.ElectionTicks)
	}
	t := c.quorumValue(func(pr *progress) uint64 {
		if pr.ackedRound == 0 {
			return 0
		}
		return pr.ackedTick + 1 // +1: tick 0 is a real tick, 0 means none
	})
	if t == 0 {
		return 0
	}
	return t - 1 + uint64(c.cfg.ElectionTicks-c.cfg.LeaseDriftTicks)
}
