package consensus

// Tick advances the Core's clock by one tick: followers and candidates
// time their elections, a leader its heartbeats, check-quorum and any
// leader transfer.
func (c *Core) Tick() {
	if c.err != nil {
		return
	}
	defer c.recoverFailure(nil)
	c.now++
	if c.role == Leader {
		c.tickLeader()
		return
	}
	c.electionElapsed++
	if c.electionElapsed >= c.randomizedElectionTimeout && c.promotable() {
		c.campaign(campaignPreVote)
	}
}

func (c *Core) tickLeader() {
	c.heartbeatElapsed++
	c.electionElapsed++
	if c.electionElapsed >= c.cfg.ElectionTicks {
		c.electionElapsed = 0
		if !c.quorumActive() {
			// Check-quorum: a leader cut off from a majority steps down
			// instead of serving stale reads and refusing nothing.
			c.becomeFollower(c.term, 0)
			return
		}
	}
	if c.transferee != 0 {
		if c.transferElapsed++; c.transferElapsed >= c.cfg.ElectionTicks {
			c.abortTransfer()
		}
	}
	if c.heartbeatElapsed >= c.cfg.HeartbeatTicks {
		c.heartbeatElapsed = 0
		c.lease.startRound(c)
		c.reads.roundOpen = false
		c.bcastHeartbeat()
	}
}

// quorumActive reports whether a majority of voters were heard from since
// the last check, and starts the next check.
func (c *Core) quorumActive() bool {
	active := 0
	for _, pr := range c.prs {
		if pr.id == c.id {
			pr.recentActive = true
		}
		if pr.recentActive && !pr.learner {
			active++
		}
		if pr.id != c.id {
			pr.recentActive = false
		}
	}
	return active >= c.quorum()
}
