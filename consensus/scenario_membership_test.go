package consensus

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// scChange proposes change on leader and stabilizes.
func scChange(t *testing.T, c *cluster, leader uint64, typ ChangeType, node uint64) uint64 {
	t.Helper()
	idx, err := c.core(leader).ProposeMembership(MembershipChange{Type: typ, Node: node})
	if err != nil {
		t.Fatalf("%s %d: %v", typ, node, err)
	}
	return idx
}

// scCheckMembers fails unless every node in ids sees voters and learners.
func scCheckMembers(t *testing.T, c *cluster, ids []uint64, voters, learners []uint64) {
	t.Helper()
	for _, id := range ids {
		m := c.core(id).Membership()
		if !slices.Equal(m.Voters, voters) || !slices.Equal(m.Learners, learners) {
			t.Fatalf("node %d sees %+v, want voters %v learners %v", id, m, voters, learners)
		}
	}
}

var scInitial = Membership{Voters: []uint64{1, 2, 3}}

// Rule 9 (learners): an added learner receives the log but is never asked
// for a vote, never campaigns and is not counted for commit.
func TestScenarioMembershipAddLearner(t *testing.T) {
	c := newCluster(t, 3)
	E := c.core(1).cfg.ElectionTicks
	c.elect(1)
	scChange(t, c, 1, AddLearner, 4)
	scJoin(c, 4, scInitial)
	c.stabilize()
	scCheckMembers(t, c, []uint64{1, 2, 3, 4}, []uint64{1, 2, 3}, []uint64{4})
	c.propose(1, "a")
	c.stabilize()
	if got := c.appliedData(4); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("learner applied %v", got)
	}

	// Not counted: with both other voters cut off, the learner's copy
	// does not make a quorum.
	c.isolate(2)
	c.isolate(3)
	commit := c.core(1).Status().Commit
	c.propose(1, "b")
	c.stabilize()
	if c.core(1).progress(4).match != c.core(1).log.lastIndex() || c.core(1).Status().Commit != commit {
		t.Fatalf("leader commit %d with only the learner's ack, want %d", c.core(1).Status().Commit, commit)
	}
	c.heal()
	c.tick(1)
	if got := c.appliedData(1); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("leader applied %v once the voters are back", got)
	}

	// Not a voter: a new election asks 2 and 3 only; 4 never campaigns.
	var campaign []Message
	scObserve(c, func(m Message) {
		if m.Type == MsgPreVote || m.Type == MsgVote {
			campaign = append(campaign, m)
		}
	})
	c.isolate(1)
	c.tick(4 * E)
	if r2, r3 := c.core(2).role, c.core(3).role; r2 != Leader && r3 != Leader {
		t.Fatalf("no new leader among 2 and 3\n%s", c)
	}
	for _, m := range campaign {
		if m.To == 4 || m.From == 4 {
			t.Fatalf("learner took part in an election: %v", m)
		}
	}
	// Even alone, with no leader to hear from, it never times out.
	c.isolate(4)
	c.tick(3 * E)
	if st := c.core(4).Status(); st.Role != Follower {
		t.Fatalf("isolated learner: %+v, want a follower", st)
	}
}

// Rule 9 (promote, add a voter, remove a follower): each change takes
// effect on commit, everywhere, and changes who counts for commit.
func TestScenarioMembershipPromoteAddRemove(t *testing.T) {
	c := newClusterWith(t, []uint64{1, 2, 3}, []uint64{4})
	c.elect(1)

	scChange(t, c, 1, PromoteLearner, 4)
	c.stabilize()
	scCheckMembers(t, c, []uint64{1, 2, 3, 4}, []uint64{1, 2, 3, 4}, nil)
	// Four voters: with 3 cut off, only 4's ack makes 1, 2 and 4 a quorum.
	c.isolate(3)
	c.propose(1, "p")
	c.stabilize()
	if got := c.appliedData(1); !slices.Equal(got, []string{"p"}) {
		t.Fatalf("leader applied %v, want the promoted node to count", got)
	}
	c.heal()
	c.tick(1)

	scChange(t, c, 1, AddVoter, 5)
	scJoin(c, 5, Membership{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}})
	c.stabilize()
	scCheckMembers(t, c, []uint64{1, 2, 3, 4, 5}, []uint64{1, 2, 3, 4, 5}, nil)
	if got := c.appliedData(5); !slices.Equal(got, []string{"p"}) {
		t.Fatalf("new voter applied %v", got)
	}

	scChange(t, c, 1, RemoveNode, 2)
	c.stabilize()
	scCheckMembers(t, c, []uint64{1, 3, 4, 5}, []uint64{1, 3, 4, 5}, nil)
	if c.core(1).progress(2) != nil {
		t.Fatal("leader still tracks the removed node")
	}
	c.propose(1, "q")
	c.stabilize()
	for _, id := range []uint64{1, 3, 4, 5} {
		if got := c.appliedData(id); !slices.Equal(got, []string{"p", "q"}) {
			t.Fatalf("node %d applied %v", id, got)
		}
	}
	if got := c.appliedData(2); slices.Contains(got, "q") {
		t.Fatalf("removed node still receives the log: %v", got)
	}
}

// Rule 9 (removing the leader): the leader that removes itself steps down
// when the change commits; the remaining voters elect a leader and keep
// committing; the removed node never campaigns.
func TestScenarioMembershipRemoveLeader(t *testing.T) {
	c := newCluster(t, 3)
	E := c.core(1).cfg.ElectionTicks
	c.elect(1)
	c.propose(1, "before")
	scChange(t, c, 1, RemoveNode, 1)
	c.stabilize()
	if st := c.core(1).Status(); st.Role == Leader {
		t.Fatalf("leader still leads after removing itself: %+v", st)
	}
	scCheckMembers(t, c, []uint64{1}, []uint64{2, 3}, nil)

	var lead uint64
	for i := 0; lead == 0; i++ {
		if i > 10*E {
			t.Fatalf("no new leader\n%s", c)
		}
		c.tick(1)
		for _, id := range []uint64{2, 3} {
			if c.core(id).role == Leader {
				lead = id
			}
		}
		if c.core(1).role != Follower {
			t.Fatalf("removed node campaigns: %+v", c.core(1).Status())
		}
	}
	scCheckMembers(t, c, []uint64{2, 3}, []uint64{2, 3}, nil)
	c.propose(lead, "after")
	c.stabilize()
	for _, id := range []uint64{2, 3} {
		if got := c.appliedData(id); !slices.Equal(got, []string{"before", "after"}) {
			t.Fatalf("node %d applied %v", id, got)
		}
	}
}

// Rule 9 (one change at a time): a second change while one is uncommitted,
// or before a new leader committed an entry of its term, gets
// ErrMembershipPending.
func TestScenarioMembershipSecondChangeWhilePending(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	lead := c.core(1)
	scChange(t, c, 1, AddLearner, 4)
	if _, err := lead.ProposeMembership(MembershipChange{Type: AddLearner, Node: 5}); !errors.Is(err, ErrMembershipPending) {
		t.Fatalf("second change while one is pending: %v, want ErrMembershipPending", err)
	}
	c.stabilize()
	scChange(t, c, 1, AddLearner, 5) // the first one committed: accepted now
	c.stabilize()
	scCheckMembers(t, c, []uint64{1, 2, 3}, []uint64{1, 2, 3}, []uint64{4, 5})

	fresh := newCluster(t, 3)
	fresh.drop = func(m Message) bool { return m.Type == MsgAppResp && m.To == 1 }
	fresh.elect(1)
	if _, err := fresh.core(1).ProposeMembership(MembershipChange{Type: AddLearner, Node: 4}); !errors.Is(err, ErrMembershipPending) {
		t.Fatalf("change before the leader's no-op committed: %v, want ErrMembershipPending", err)
	}
}

// Rule 9 (invalid changes): changes that do not fit the membership get
// ErrInvalidMembershipChange and leave the log alone.
func TestScenarioMembershipInvalidChanges(t *testing.T) {
	c := newClusterWith(t, []uint64{1, 2, 3}, []uint64{4})
	c.elect(1)
	lead := c.core(1)
	last := lead.log.lastIndex()
	for _, ch := range []MembershipChange{
		{AddVoter, 2}, {AddVoter, 4}, {AddLearner, 3}, {AddLearner, 4}, {AddLearner, 0},
		{PromoteLearner, 2}, {PromoteLearner, 9}, {RemoveNode, 9}, {RemoveNode, 0},
		{ChangeType(0), 5}, {ChangeType(9), 5},
	} {
		if _, err := lead.ProposeMembership(ch); !errors.Is(err, ErrInvalidMembershipChange) {
			t.Fatalf("%s %d: %v, want ErrInvalidMembershipChange", ch.Type, ch.Node, err)
		}
	}
	if lead.log.lastIndex() != last {
		t.Fatal("an invalid change reached the log")
	}

	single := newCluster(t, 1)
	single.elect(1)
	if _, err := single.core(1).ProposeMembership(MembershipChange{RemoveNode, 1}); !errors.Is(err, ErrInvalidMembershipChange) {
		t.Fatalf("removing the last voter: %v, want ErrInvalidMembershipChange", err)
	}
	if _, err := c.core(2).ProposeMembership(MembershipChange{AddLearner, 5}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("change on a follower: %v, want ErrNotLeader", err)
	}
}

// Rule 9 (ordering): proposals interleaved with changes all commit, in the
// order they were proposed, at the indexes they were given, on every node.
func TestScenarioMembershipInterleavedWithProposals(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	lead := c.core(1)
	type item struct {
		index uint64
		what  string
	}
	var want []item
	propose := func(data string) {
		_, first, err := lead.Propose([]Entry{{Data: []byte(data)}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, item{first, data})
	}
	change := func(typ ChangeType, node uint64) {
		want = append(want, item{scChange(t, c, 1, typ, node), fmt.Sprintf("%s %d", typ, node)})
	}
	propose("a")
	change(AddLearner, 4)
	scJoin(c, 4, scInitial)
	propose("b")
	propose("c")
	c.stabilize()
	propose("d")
	change(PromoteLearner, 4)
	propose("e")
	c.stabilize()

	for _, id := range []uint64{1, 2, 3, 4} {
		var got []item
		for i, e := range c.applied[id] {
			if i > 0 && e.Index != c.applied[id][i-1].Index+1 {
				t.Fatalf("node %d applied %d after %d", id, e.Index, c.applied[id][i-1].Index)
			}
			switch e.Type {
			case EntryNormal:
				got = append(got, item{e.Index, string(e.Data)})
			case EntryMembership:
				rec, err := DecodeMembershipEntry(e.Data)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, item{e.Index, fmt.Sprintf("%s %d", rec.Change.Type, rec.Change.Node)})
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("node %d applied %v, want %v", id, got, want)
		}
	}
	scCheckMembers(t, c, []uint64{1, 2, 3, 4}, []uint64{1, 2, 3, 4}, nil)
}
