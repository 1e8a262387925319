package consensus

import (
	"errors"
	"slices"
	"testing"
)

// Rule 8 (refusals, abandonment): while a transfer is under way proposals
// and membership changes get ErrTransferring; when the target cannot be
// reached the transfer is abandoned after an election timeout, and
// proposals are accepted and commit again.
func TestScenarioTransferToUnreachableTargetIsAbandoned(t *testing.T) {
	c := newCluster(t, 3)
	E := c.core(1).cfg.ElectionTicks
	c.elect(1)
	lead := c.core(1)
	term := lead.Status().Term
	c.isolate(3)
	if err := lead.TransferLeadership(3); err != nil {
		t.Fatal(err)
	}
	refused := func() {
		t.Helper()
		if _, _, err := lead.Propose([]Entry{{Data: []byte("x")}}); !errors.Is(err, ErrTransferring) {
			t.Fatalf("Propose during transfer: %v, want ErrTransferring", err)
		}
		if _, err := lead.ProposeMembership(MembershipChange{Type: AddLearner, Node: 9}); !errors.Is(err, ErrTransferring) {
			t.Fatalf("ProposeMembership during transfer: %v, want ErrTransferring", err)
		}
	}
	refused()
	c.tick(E - 1)
	if st := lead.Status(); st.Transferee != 3 {
		t.Fatalf("after %d ticks: %+v, want the transfer still under way", E-1, st)
	}
	refused()
	c.tick(1)
	if st := lead.Status(); st.Transferee != 0 || st.Role != Leader || st.Term != term {
		t.Fatalf("after an election timeout: %+v, want leader of term %d, transfer abandoned", st, term)
	}
	c.propose(1, "after")
	c.stabilize()
	for _, id := range []uint64{1, 2} {
		if got := c.appliedData(id); !slices.Equal(got, []string{"after"}) {
			t.Fatalf("node %d applied %v", id, got)
		}
	}
}

// Rule 8 (catch-up): a lagging target is sent what it misses first; the
// MsgTimeoutNow reaches it only once its log is the leader's, and it wins.
func TestScenarioTransferCatchesUpLaggingTarget(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.drop = func(m Message) bool { return m.Type == MsgApp && m.To == 3 }
	c.propose(1, "a", "b")
	c.propose(1, "c")
	c.stabilize()
	c.drop = nil
	lead := c.core(1)
	last, term := lead.log.lastIndex(), lead.Status().Term
	if c.core(3).log.lastIndex() >= last {
		t.Fatal("setup: node 3 is not lagging")
	}
	var targetLast []uint64 // node 3's last index at each MsgTimeoutNow
	scObserve(c, func(m Message) {
		if m.Type == MsgTimeoutNow {
			targetLast = append(targetLast, c.core(3).log.lastIndex())
		}
	})
	if err := lead.TransferLeadership(3); err != nil {
		t.Fatal(err)
	}
	if len(lead.msgs) == 0 {
		t.Fatal("transfer to a lagging target sent nothing to catch it up")
	}
	for _, m := range lead.msgs {
		if m.Type == MsgTimeoutNow {
			t.Fatalf("MsgTimeoutNow queued before the target caught up: %v", lead.msgs)
		}
	}
	c.stabilize()
	if len(targetLast) == 0 || targetLast[0] != last {
		t.Fatalf("target's last index at MsgTimeoutNow: %v, want %d", targetLast, last)
	}
	if st := c.core(3).Status(); st.Role != Leader || st.Term != term+1 {
		t.Fatalf("target: %+v, want leader of term %d", st, term+1)
	}
	c.propose(3, "d")
	c.stabilize()
	if got := c.appliedData(1); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("old leader applied %v", got)
	}
}

// Rule 8 (Force): the target wins at once although every voter has just
// heard from the leader and would ignore an ordinary campaign: its votes
// carry Force.
func TestScenarioTransferTargetWinsDespiteLease(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.core(1).Tick()
	c.stabilize()
	for _, id := range []uint64{2, 3} {
		if !c.core(id).inLease() {
			t.Fatalf("setup: node %d not in lease", id)
		}
	}
	term := c.core(1).Status().Term
	var votes []Message
	scObserve(c, func(m Message) {
		if m.Type == MsgVote || m.Type == MsgPreVote {
			votes = append(votes, m)
		}
	})
	if err := c.core(1).TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	c.stabilize() // no tick: nobody's lease has run out
	if st := c.core(2).Status(); st.Role != Leader || st.Term != term+1 {
		t.Fatalf("target: %+v, want leader of term %d\n%s", st, term+1, c)
	}
	if len(votes) != 2 {
		t.Fatalf("campaign messages %v, want two MsgVote (no pre-vote)", votes)
	}
	for _, m := range votes {
		if m.Type != MsgVote || !m.Force {
			t.Fatalf("campaign message %v (force=%t), want a forced MsgVote", m, m.Force)
		}
	}
	if st := c.core(1).Status(); st.Role != Follower || st.Leader != 2 {
		t.Fatalf("old leader: %+v, want follower of 2", st)
	}
}

// Rule 8 (invalid targets): only a leader transfers, and only to another
// voter.
func TestScenarioTransferInvalidTargets(t *testing.T) {
	c := newClusterWith(t, []uint64{1, 2, 3}, []uint64{4})
	c.elect(1)
	for _, to := range []uint64{1, 4, 9} {
		if err := c.core(1).TransferLeadership(to); !errors.Is(err, ErrInvalidTransfer) {
			t.Fatalf("transfer to %d: %v, want ErrInvalidTransfer", to, err)
		}
	}
	if err := c.core(2).TransferLeadership(3); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer from a follower: %v, want ErrNotLeader", err)
	}
}
