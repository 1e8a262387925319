package stages

import (
	"fmt"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
)

// The counters follow what a worker publishes, step by step: a restart
// into an old term is no election, each term this node enters voting for
// itself is one, and each leader heard of after none or another is a
// change.
func TestObserveCountsElectionsAndLeaderChanges(t *testing.T) {
	const me = 1
	var c consensusCounters
	gs := &groupState{seenTerm: 4} // restarted at term 4, as startGroup sets it
	steps := []struct {
		st                 consensus.Status
		elections, changes uint64
	}{
		{consensus.Status{ID: me, Term: 4, Vote: me}, 0, 0},                            // its own old vote, restored
		{consensus.Status{ID: me, Term: 4, Vote: me, Leader: 2}, 0, 1},                 // hears of node 2
		{consensus.Status{ID: me, Term: 4, Vote: me, Leader: 2}, 0, 1},                 // nothing new
		{consensus.Status{ID: me, Term: 5, Vote: 3}, 0, 1},                             // votes for 3: no election of its own
		{consensus.Status{ID: me, Term: 5, Vote: 3, Leader: 3}, 0, 2},                  // 3 leads
		{consensus.Status{ID: me, Term: 6, Vote: me, Role: consensus.Candidate}, 1, 2}, // campaigns
		{consensus.Status{ID: me, Term: 7, Vote: me, Role: consensus.Candidate}, 2, 2}, // and again
		{consensus.Status{ID: me, Term: 7, Vote: me, Role: consensus.Leader, Leader: me}, 2, 3},
		{consensus.Status{ID: me, Term: 8, Vote: 0}, 2, 3},             // a higher term, no leader yet
		{consensus.Status{ID: me, Term: 8, Vote: 0, Leader: me}, 2, 4}, // the same leader again, after none
	}
	for i, s := range steps {
		c.observe(gs, s.st)
		if got := c.snapshot(); got.ElectionsStarted != s.elections || got.LeaderChanges != s.changes {
			t.Fatalf("step %d (%+v): elections %d, changes %d; want %d, %d", i, s.st, got.ElectionsStarted, got.LeaderChanges, s.elections, s.changes)
		}
	}
}

func TestRefuseCountsByReason(t *testing.T) {
	var c consensusCounters
	c.refuse(&NotLeaderError{Group: 1, Leader: 2}, 3)
	c.refuse(fmt.Errorf("%w: group 1: %w", ErrBusy, consensus.ErrUncommittedFull), 2)
	c.refuse(fmt.Errorf("%w: group 1 index 9", ErrProposalDropped), 1)
	c.refuse(ErrStopped, 5) // not a refusal
	got := c.snapshot()
	if got.ProposalsNotLeader != 3 || got.ProposalsBusy != 2 || got.ProposalsDropped != 1 {
		t.Fatalf("refusals %+v, want 3 not leader, 2 busy, 1 dropped", got)
	}
}
