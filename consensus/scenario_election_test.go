package consensus

import (
	"testing"
)

// Rule 1 (randomized timeouts): every node times out at a tick in [E, 2E),
// not all at the same one, and a node draws a new timeout each campaign.
func TestScenarioElectionRandomizedTimeouts(t *testing.T) {
	const n = 7
	c := newCluster(t, n) // nothing is ever delivered: every node is alone
	E := c.core(1).cfg.ElectionTicks
	first := map[uint64]int{}
	for tick := 1; tick <= 2*E; tick++ {
		for _, id := range c.ids {
			c.core(id).Tick()
			if _, ok := first[id]; !ok && c.core(id).role == PreCandidate {
				first[id] = tick
			}
		}
	}
	distinct := map[int]bool{}
	for _, id := range c.ids {
		tk, ok := first[id]
		if !ok || tk < E || tk >= 2*E {
			t.Fatalf("node %d timed out at tick %d (ok=%t), want one in [%d, %d)", id, tk, ok, E, 2*E)
		}
		distinct[tk] = true
	}
	if len(distinct) < 2 {
		t.Fatalf("all %d nodes timed out at the same tick: %v", n, first)
	}

	// One node alone, many campaigns: each waits a fresh draw in [E, 2E).
	solo := newCluster(t, 3).core(1)
	var gaps []int
	last, campaigns := 0, 0
	for tick := 1; len(gaps) < 12; tick++ {
		solo.Tick()
		if got := scCampaigns(solo.msgs); got > campaigns {
			campaigns = got
			gaps = append(gaps, tick-last)
			last = tick
		}
		if tick > 100*E {
			t.Fatalf("only %d campaigns in %d ticks", len(gaps), tick)
		}
	}
	seen := map[int]bool{}
	for _, g := range gaps {
		if g < E || g >= 2*E {
			t.Fatalf("campaign gaps %v: %d outside [%d, %d)", gaps, g, E, 2*E)
		}
		seen[g] = true
	}
	if len(seen) < 2 {
		t.Fatalf("campaign gaps %v never change: timeout not re-randomized", gaps)
	}
}

// scCampaigns counts the campaigns among msgs: each sends one MsgPreVote
// per peer.
func scCampaigns(msgs []Message) int {
	n, peers := 0, map[uint64]bool{}
	for _, m := range msgs {
		if m.Type == MsgPreVote {
			n++
			peers[m.To] = true
		}
	}
	if len(peers) == 0 {
		return 0
	}
	return n / len(peers)
}

// Rule 1 (pre-vote): a node cut off from the group keeps timing out but,
// only pre-voting, never raises its term; when it rejoins, the leader keeps
// its leadership and nobody's term moves.
func TestScenarioElectionPreVoteRejoiningNodeDoesNotDisrupt(t *testing.T) {
	c := newCluster(t, 3)
	E := c.core(1).cfg.ElectionTicks
	c.elect(1)
	term := c.core(1).Status().Term

	c.isolate(3)
	c.propose(1, "while-away")
	c.tick(5 * E)
	if st := c.core(3).Status(); st.Role != PreCandidate || st.Term != term {
		t.Fatalf("isolated node: %+v, want a pre-candidate still in term %d", st, term)
	}

	votes := 0
	scObserve(c, func(m Message) {
		if m.Type == MsgVote {
			votes++
		}
	})
	c.heal()
	c.tick(3 * E)
	for _, id := range c.ids {
		if st := c.core(id).Status(); st.Term != term || st.Leader != 1 {
			t.Fatalf("node %d after rejoin: %+v, want term %d under leader 1\n%s", id, st, term, c)
		}
	}
	if votes != 0 {
		t.Fatalf("%d MsgVote sent: the rejoining node started a real election", votes)
	}
	if got := c.appliedData(3); len(got) != 1 || got[0] != "while-away" {
		t.Fatalf("rejoined node applied %v, want [while-away]", got)
	}
}

// Rule 1 (lease): a node that heard from a leader within an election
// timeout, or that just started, neither answers nor adopts the term of a
// (pre-)vote request; once that timeout has passed, it does answer.
func TestScenarioElectionNodeInLeaseIgnoresVoteRequests(t *testing.T) {
	setups := []struct {
		name  string
		setup func(c *cluster)
	}{
		{"freshly started", func(c *cluster) {}},
		{"following a leader", func(c *cluster) { c.elect(1) }},
	}
	for _, s := range setups {
		for _, typ := range []MessageType{MsgPreVote, MsgVote} {
			t.Run(s.name+"/"+typ.String(), func(t *testing.T) {
				c := newCluster(t, 3)
				s.setup(c)
				f := c.core(2)
				before := f.Status()
				req := Message{Type: typ, From: 3, To: 2, Term: before.Term + 1,
					Index: f.log.lastIndex(), LogTerm: f.log.lastTerm()}
				answers := func() []Message {
					for c.process() {
					}
					return scInbox(c, func(m Message) bool { return m.From == 2 && m.To == 3 })
				}

				if err := f.Step(req); err != nil {
					t.Fatal(err)
				}
				if got := answers(); len(got) != 0 {
					t.Fatalf("node in lease answered %v", got)
				}
				if after := f.Status(); after.Term != before.Term || after.Vote != before.Vote {
					t.Fatalf("node in lease moved from %+v to %+v", before, after)
				}

				// An election timeout later, the same request is granted.
				c.inbox = nil
				f.now += uint64(f.cfg.ElectionTicks)
				if err := f.Step(req); err != nil {
					t.Fatal(err)
				}
				resp := map[MessageType]MessageType{MsgPreVote: MsgPreVoteResp, MsgVote: MsgVoteResp}[typ]
				got := answers()
				if len(got) != 1 || got[0].Reject || got[0].Type != resp {
					t.Fatalf("out of lease, answers %v, want one granted %s", got, resp)
				}
			})
		}
	}
}

// Rule 1 (check-quorum): a leader cut off from every follower steps down
// within two election timeouts (the check runs once per timeout), keeping
// its term; a leader that hears from a quorum never does.
func TestScenarioElectionCheckQuorumIsolatedLeaderStepsDown(t *testing.T) {
	c := newCluster(t, 3)
	E := c.core(1).cfg.ElectionTicks
	c.elect(1)
	c.tick(3 * E)
	if c.leader() != 1 {
		t.Fatalf("connected leader lost leadership\n%s", c)
	}
	term := c.core(1).Status().Term

	c.isolate(1)
	for i := 1; c.core(1).role == Leader; i++ {
		if i > 2*E {
			t.Fatalf("leader cut off for %d ticks still leads", i-1)
		}
		c.tick(1)
	}
	if st := c.core(1).Status(); st.Role != Follower || st.Term != term || st.Leader != 0 {
		t.Fatalf("after stepping down: %+v, want a leaderless follower in term %d", st, term)
	}
}

// Rule 1 (no-op): the first entry of every new leader's term is an
// EntryNoop, right after the last entry of the previous term.
func TestScenarioElectionNewLeaderAppendsNoop(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.propose(1, "a")
	c.stabilize()
	checkNoop := func(lead uint64, nodes ...uint64) {
		t.Helper()
		term := c.core(lead).Status().Term
		for _, id := range nodes {
			ents := scLogOf(c, id)
			for i, e := range ents {
				if e.Term != term {
					continue
				}
				if e.Type != EntryNoop || len(e.Data) != 0 {
					t.Fatalf("node %d: first entry of term %d is %+v, want an empty no-op", id, term, e)
				}
				if i > 0 && ents[i-1].Term >= term {
					t.Fatalf("node %d: entry before the no-op has term %d", id, ents[i-1].Term)
				}
				return
			}
			t.Fatalf("node %d has no entry of term %d", id, term)
		}
	}
	checkNoop(1, 1, 2, 3)

	c.isolate(1)
	c.elect(2)
	c.stabilize()
	checkNoop(2, 2, 3)
	c.propose(2, "b")
	c.stabilize()
	if got := c.appliedData(3); len(got) != 2 || got[1] != "b" {
		t.Fatalf("node 3 applied %v, want [a b]", got)
	}
}
