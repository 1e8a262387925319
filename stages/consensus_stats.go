package stages

import (
	"errors"
	"sync/atomic"

	"github.com/raftpipe/raftpipe/consensus"
)

// ConsensusStats count what the step workers saw of their groups' cores,
// for the metrics layer.
type ConsensusStats struct {
	// ElectionsStarted counts the terms this host entered as a candidate
	// (voting for itself), leader transfers to it included; pre-votes
	// are not elections and are not counted.
	ElectionsStarted uint64
	// LeaderChanges counts the times a group learnt of a leader, this
	// node included, when it knew of none or of another one before (as
	// etcd's leader_changes_seen_total): a leader re-elected after an
	// election that found none in between counts too.
	LeaderChanges uint64
	// Proposals refused: at a node that is not the leader (or whose
	// leader is transferring), by a leader holding its uncommitted limit
	// or a membership change (ErrBusy), and those dropped after they
	// entered the log because another leader's entry took their index
	// (ErrProposalDropped).
	ProposalsNotLeader, ProposalsBusy, ProposalsDropped uint64
}

// refusal is why a proposal never reached its state machine.
type refusal uint8

const (
	refusedNotLeader refusal = iota
	refusedBusy
	refusedDropped
	numRefusals
)

type consensusCounters struct {
	electionsStarted, leaderChanges atomic.Uint64
	refused                         [numRefusals]atomic.Uint64
}

func (c *consensusCounters) snapshot() ConsensusStats {
	return ConsensusStats{
		ElectionsStarted:   c.electionsStarted.Load(),
		LeaderChanges:      c.leaderChanges.Load(),
		ProposalsNotLeader: c.refused[refusedNotLeader].Load(),
		ProposalsBusy:      c.refused[refusedBusy].Load(),
		ProposalsDropped:   c.refused[refusedDropped].Load(),
	}
}

// refuse counts n proposals failed with err, by the reason it names; a
// failure for another reason (a stopped host, a failed core) is not a
// refusal and is not counted. Only failure paths call it.
func (c *consensusCounters) refuse(err error, n int) {
	switch {
	case errors.Is(err, ErrNotLeader):
		c.refused[refusedNotLeader].Add(uint64(n))
	case errors.Is(err, ErrBusy):
		c.refused[refusedBusy].Add(uint64(n))
	case errors.Is(err, ErrProposalDropped):
		c.refused[refusedDropped].Add(uint64(n))
	}
}

// observe counts the election this node started and the leader change it
// saw since gs was last published, comparing st with what it published
// then. The worker does this for every dirty group at the end of each
// drain, where it takes the group's status anyway: two comparisons, and
// an atomic add only when something changed. A term entered and left
// between two publications goes uncounted; a drain of a busy worker is
// far shorter than an election.
func (c *consensusCounters) observe(gs *groupState, st consensus.Status) {
	if st.Term > gs.seenTerm && st.Vote == st.ID {
		c.electionsStarted.Add(1)
	}
	if st.Leader != 0 && st.Leader != gs.seenLeader {
		c.leaderChanges.Add(1)
	}
	gs.seenTerm, gs.seenLeader = st.Term, st.Leader
}
