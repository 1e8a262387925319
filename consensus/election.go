package consensus

type campaignKind uint8

const (
	campaignPreVote campaignKind = iota
	campaignElection
	// campaignTransfer skips the pre-vote and asks voters to ignore their
	// lease: the leader itself asked for the election.
	campaignTransfer
)

// campaign starts a pre-vote or an election. A node counts its own vote
// only once that vote is persisted: had it crashed before, it could vote
// again in the same term.
func (c *Core) campaign(kind campaignKind) {
	voteType, term := MsgPreVote, c.term+1
	if kind == campaignPreVote {
		c.reset(c.term)
		c.role = PreCandidate
	} else {
		c.reset(c.term + 1)
		c.role = Candidate
		c.vote = c.id
		voteType, term = MsgVote, c.term
	}
	index, logTerm := c.log.lastIndex(), c.log.lastTerm()
	for _, id := range c.members.Voters {
		if id != c.id {
			c.send(Message{Type: voteType, To: id, Term: term, Index: index, LogTerm: logTerm,
				Force: kind == campaignTransfer})
		}
	}
	if kind == campaignPreVote {
		c.recordVote(c.id, true)
	} else {
		c.sendAfterPersist(Message{Type: MsgVoteResp, To: c.id})
	}
}

// handleVote answers a pre-vote or a vote. The term check in step already
// brought this node to m.Term for a vote.
func (c *Core) handleVote(m Message) {
	resp := MsgVoteResp
	if m.Type == MsgPreVote {
		resp = MsgPreVoteResp
	}
	canVote := c.vote == m.From ||
		c.vote == 0 && c.lead == 0 ||
		m.Type == MsgPreVote && m.Term > c.term
	if !canVote || !c.log.isUpToDate(m.Index, m.LogTerm) {
		c.send(Message{Type: resp, To: m.From, Reject: true})
		return
	}
	if m.Type == MsgPreVote {
		c.send(Message{Type: resp, To: m.From, Term: m.Term})
		return
	}
	c.electionElapsed = 0
	c.vote = m.From
	c.sendAfterPersist(Message{Type: resp, To: m.From})
}

// recordVote counts a vote and acts once the campaign is decided.
func (c *Core) recordVote(from uint64, granted bool) {
	for _, v := range c.votes {
		if v.id == from {
			return
		}
	}
	c.votes = append(c.votes, vote{from, granted})
	yes, no := 0, 0
	for _, v := range c.votes {
		if !c.members.isVoter(v.id) {
			continue
		}
		if v.granted {
			yes++
		} else {
			no++
		}
	}
	q := c.quorum()
	switch {
	case yes >= q && c.role == PreCandidate:
		c.campaign(campaignElection)
	case yes >= q:
		c.becomeLeader()
	case len(c.members.Voters)-no < q:
		c.becomeFollower(c.term, 0)
	}
}
