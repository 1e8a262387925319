package consensus

import (
	"testing"
)

// scFigure8 builds the state of Figure 8 (b) of the Raft paper, five
// servers after S1 led term 2 and S5 led term 3:
//
//	S1: 1 2      (index 2 from term 2)
//	S2: 1 2
//	S3: 1
//	S4: 1
//	S5: 1 3      (index 2 from term 3)
//
// then plays (c): S1 is elected in term 4 (S4 and S5 down) and replicates
// index 2 to S3, but its own term-4 entry (the no-op, index 3) reaches
// nobody: every append from S1 is cut before index 3.
func scFigure8(t *testing.T) *cluster {
	c := scClusterWithLogs(t, []scNodeLog{
		{[]uint64{1, 2}, HardState{Term: 3, Commit: 1}},
		{[]uint64{1, 2}, HardState{Term: 3, Commit: 1}},
		{[]uint64{1}, HardState{Term: 3, Vote: 5, Commit: 1}},
		{[]uint64{1}, HardState{Term: 3, Vote: 5, Commit: 1}},
		{[]uint64{1, 3}, HardState{Term: 3, Vote: 5, Commit: 1}},
	}, nil)
	c.isolate(4)
	c.isolate(5)
	scElect(c, 1, scFigure8Cut)
	return c
}

// scFigure8Cut strips entries from index 3 on off S1's appends.
func scFigure8Cut(m Message) (Message, bool) {
	if m.Type == MsgApp && m.From == 1 {
		var kept []Entry
		for _, e := range m.Entries {
			if e.Index < 3 {
				kept = append(kept, e)
			}
		}
		m.Entries = kept
	}
	return m, true
}

// Rule 5 (§5.4.2, Figure 8 (c)): index 2 from term 2 is on S1, S2 and S3, a
// majority, yet the term-4 leader S1 must not commit it by counting: (d)
// S5 can still be elected and overwrite it.
func TestScenarioCommitFigure8OldTermEntryNotCommittedByCounting(t *testing.T) {
	c := scFigure8(t)
	if st := c.core(1).Status(); st.Role != Leader || st.Term != 4 {
		t.Fatalf("S1: %+v, want leader of term 4", st)
	}
	for _, id := range []uint64{1, 2, 3} {
		if term := scTermAt(c, id, 2); term != 2 {
			t.Fatalf("S%d holds index 2 from term %d, want 2", id, term)
		}
	}
	for _, id := range []uint64{2, 3} {
		if m := c.core(1).progress(id).match; m != 2 {
			t.Fatalf("S1 knows S%d matches to %d, want 2", id, m)
		}
	}
	if cm := c.core(1).Status().Commit; cm != 1 {
		t.Fatalf("S1 committed %d: an entry of an older term committed by counting replicas", cm)
	}

	// (d) S1 crashes; S5 is elected with S2, S3 and S4 and overwrites index 2.
	c.heal()
	c.isolate(1)
	scElect(c, 5, nil)
	for _, id := range []uint64{2, 3, 4, 5} {
		if term := scTermAt(c, id, 2); term != 3 {
			t.Fatalf("S%d holds index 2 from term %d after S5 led, want 3", id, term)
		}
		for _, e := range c.applied[id] {
			if e.Index == 2 && e.Term != 3 {
				t.Fatalf("S%d applied index 2 from term %d", id, e.Term)
			}
		}
	}
	if got := c.appliedData(2); len(got) < 2 || got[1] != "2/3" {
		t.Fatalf("S2 applied %v, want index 2 from term 3", got)
	}
}

// Rule 5 (Figure 8 (e)): once S1's own term-4 entry reaches a majority,
// index 2 commits with it, and S5 can no longer win.
func TestScenarioCommitFigure8CommitsThroughCurrentTermEntry(t *testing.T) {
	c := scFigure8(t)
	c.tick(1) // appends flow unaltered now
	if cm := c.core(1).Status().Commit; cm != 3 {
		t.Fatalf("S1 commit %d once its no-op is on a majority, want 3", cm)
	}
	if got := c.appliedData(1); len(got) != 2 || got[1] != "2/2" {
		t.Fatalf("S1 applied %v, want index 2 from term 2", got)
	}
	c.heal()
	c.isolate(1)
	n5 := c.core(5)
	for range 4 {
		for _, id := range []uint64{2, 3, 4} {
			c.core(id).now += uint64(c.core(id).cfg.ElectionTicks)
		}
		n5.campaign(campaignPreVote)
		c.stabilize()
		if n5.role == Leader {
			t.Fatalf("S5 won an election without index 3\n%s", c)
		}
	}
	for _, id := range []uint64{2, 3} {
		if term := scTermAt(c, id, 2); term != 2 {
			t.Fatalf("S%d lost committed index 2: now from term %d", id, term)
		}
	}
}

// Rule 5 (the commit index never decreases): a follower that learned a
// commit index its new leader has not learned keeps it, through that
// leader's appends and heartbeats and through stale messages.
func TestScenarioCommitIndexNeverDecreases(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	seen := map[uint64]uint64{}
	check := func() {
		for _, id := range c.ids {
			cm := c.core(id).Status().Commit
			if cm < seen[id] {
				t.Fatalf("node %d commit went from %d back to %d", id, seen[id], cm)
			}
			seen[id] = cm
		}
	}
	c.propose(1, "a")
	idx := c.core(1).log.lastIndex()
	// Node 2 gets the entry but never hears that it committed.
	c.drop = func(m Message) bool {
		return m.To == 2 && (m.Type == MsgApp || m.Type == MsgHeartbeat) && m.Commit >= idx
	}
	scObserve(c, func(Message) { check() })
	c.stabilize()
	if c.core(3).Status().Commit != idx || c.core(2).Status().Commit >= idx {
		t.Fatalf("setup: commits %d (node 2) and %d (node 3), want node 3 alone at %d",
			c.core(2).Status().Commit, c.core(3).Status().Commit, idx)
	}

	// Node 2 leads without knowing the commit; node 3 keeps what it knows.
	c.drop = nil
	scObserve(c, func(Message) { check() })
	c.isolate(1)
	c.elect(2)
	c.tick(3)
	check()
	f := c.core(3)
	term := f.Status().Term
	for _, m := range []Message{
		{Type: MsgHeartbeat, From: 2, To: 3, Term: term, Commit: 0},
		{Type: MsgApp, From: 2, To: 3, Term: term, Index: idx, LogTerm: scTermAt(c, 3, idx), Commit: 1},
	} {
		if err := f.Step(m); err != nil {
			t.Fatal(err)
		}
		check()
	}
	c.stabilize()
	check()
	if seen[3] < idx+1 {
		t.Fatalf("node 3 commit %d, want at least node 2's no-op %d", seen[3], idx+1)
	}
}
