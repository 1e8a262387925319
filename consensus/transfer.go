package consensus

// TransferLeadership asks the leader to hand its leadership to voter to.
// Proposals are refused while the transfer is under way; the target is
// first caught up, then told to campaign at once (MsgTimeoutNow). The
// transfer is abandoned after an election timeout.
func (c *Core) TransferLeadership(to uint64) (err error) {
	if c.err != nil {
		return c.err
	}
	defer c.recoverFailure(&err)
	switch {
	case c.role != Leader:
		return ErrNotLeader
	case to == c.id || !c.members.isVoter(to):
		return ErrInvalidTransfer
	case c.transferee == to:
		return nil
	}
	c.transferee = to
	c.transferElapsed = 0
	pr := c.progress(to)
	if pr.match == c.log.lastIndex() {
		c.sendTimeoutNow(to)
	} else {
		c.sendAppends(pr, true)
	}
	return nil
}

func (c *Core) sendTimeoutNow(to uint64) {
	c.lease.forfeited = true
	c.send(Message{Type: MsgTimeoutNow, To: to})
}

func (c *Core) abortTransfer() { c.transferee = 0 }
