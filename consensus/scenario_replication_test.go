package consensus

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func scAppsTo(c *cluster, to uint64) []Message {
	return scInbox(c, func(m Message) bool { return m.Type == MsgApp && m.To == to })
}

// Rule 2 (pipelining): in replicate state the leader advances next as it
// sends, so three proposals put three appends in flight to each follower,
// each starting where the previous one ended, before any is acknowledged.
func TestScenarioReplicationPipelinesAppends(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	base := c.core(1).log.lastIndex()
	for _, d := range []string{"a", "b", "c"} {
		c.propose(1, d)
	}
	c.process()
	apps := scAppsTo(c, 2)
	if len(apps) != 3 {
		t.Fatalf("%d appends in flight to node 2, want 3: %v", len(apps), apps)
	}
	for i, m := range apps {
		want := base + uint64(i)
		if m.Index != want || len(m.Entries) != 1 || m.Entries[0].Index != want+1 {
			t.Fatalf("append %d: %v, want entry %d after index %d", i, m, want+1, want)
		}
	}
	if pr := c.core(1).progress(2); pr.state != replicate || pr.next != base+4 || pr.match != base {
		t.Fatalf("progress of 2 before any ack: %v, want replicate next=%d match=%d", pr, base+4, base)
	}
	c.stabilize()
	for _, id := range c.ids {
		if got := c.appliedData(id); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Fatalf("node %d applied %v", id, got)
		}
	}
}

// Rule 2 (inflight window): InflightMsgsMax caps the appends in flight to
// one follower; the rest go once acknowledgements free the window.
func TestScenarioReplicationInflightWindowBoundsMessages(t *testing.T) {
	c := scNewCluster(t, 3, func(cfg *Config) { cfg.InflightMsgsMax = 2 })
	c.elect(1)
	want := []string{"0", "1", "2", "3", "4"}
	for _, d := range want {
		c.propose(1, d)
	}
	c.process()
	if apps := scAppsTo(c, 2); len(apps) != 2 {
		t.Fatalf("%d appends in flight to node 2, want InflightMsgsMax=2", len(apps))
	}
	c.stabilize()
	if got := c.appliedData(2); !slices.Equal(got, want) {
		t.Fatalf("node 2 applied %v, want %v", got, want)
	}
}

// Rule 2 (inflight window): InflightBytesMax caps the bytes in flight to
// one follower.
func TestScenarioReplicationInflightWindowBoundsBytes(t *testing.T) {
	const entry = 100 // bytes per entry, overhead included
	c := scNewCluster(t, 3, func(cfg *Config) {
		cfg.MsgBytesMax = entry
		cfg.InflightBytesMax = 2 * entry
	})
	c.elect(1)
	data := strings.Repeat("x", entry-entryOverhead)
	for range 5 {
		c.propose(1, data)
	}
	c.process()
	apps := scAppsTo(c, 2)
	var bytes uint64
	for _, m := range apps {
		for _, e := range m.Entries {
			bytes += e.size()
		}
	}
	if len(apps) != 2 || bytes > 2*entry {
		t.Fatalf("%d appends, %d bytes in flight to node 2, want 2 appends within %d bytes", len(apps), bytes, 2*entry)
	}
	c.stabilize()
	if got := c.appliedData(2); len(got) != 5 {
		t.Fatalf("node 2 applied %d entries, want 5", len(got))
	}
}

// Rule 2 (rejection hints): a follower whose log diverges from the leader's
// over a long stretch is repaired with one rejected probe, not one per
// entry: the hint names the follower's last entry of a term no newer than
// the probe's, and the leader skips back over its whole term from there.
func TestScenarioReplicationRejectHintSkipsWholeTerm(t *testing.T) {
	t1 := []uint64{1, 1, 1}
	cases := []struct {
		name             string
		leader, follower []uint64
	}{
		// Figure 7 (f)-like: the follower holds a long suffix of an old term,
		// longer than the leader's log.
		{"older suffix", slices.Concat(t1, scTerms(3, 27)), slices.Concat(t1, scTerms(2, 37))},
		// Figure 7 (e)-like: the suffix is of a newer term that never
		// committed; the leader's own stretch is of an older term.
		{"newer uncommitted suffix", slices.Concat(t1, scTerms(2, 27)), slices.Concat(t1, scTerms(3, 37))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := HardState{Term: 3, Commit: 3}
			c := scClusterWithLogs(t, []scNodeLog{{tc.leader, hs}, {tc.follower, hs}, {tc.leader, hs}}, nil)
			probes, rejects := 0, 0
			scObserve(c, func(m Message) {
				if m.Type == MsgApp && m.To == 2 {
					probes++
				}
				if m.Type == MsgAppResp && m.From == 2 && m.Reject {
					rejects++
				}
			})
			c.elect(1)
			if rejects != 1 {
				t.Fatalf("%d rejections (%d appends) to repair 27 divergent entries, want 1", rejects, probes)
			}
			if got, want := scLogOf(c, 2), scLogOf(c, 1); !slices.EqualFunc(got, want, func(a, b Entry) bool {
				return a.Index == b.Index && a.Term == b.Term
			}) {
				t.Fatalf("follower log (%d entries) differs from the leader's (%d)", len(got), len(want))
			}
		})
	}
}

// Rule 2 (the seed's example): appends of 2, 3 and 4 are sent; 3 is lost,
// so the follower rejects 4 (it lacks 3); the leader resends 3 and 4 and
// the follower ends with all of them.
func TestScenarioReplicationLostAppendIsResent(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1) // the no-op is index 1
	c.propose(1, "2")
	c.propose(1, "3")
	c.propose(1, "4")
	c.process()

	lost := false
	var rejects []Message
	resent := map[uint64]bool{}
	c.drop = func(m Message) bool {
		if m.Type == MsgApp && m.To == 2 && len(m.Entries) > 0 {
			if !lost && m.Entries[0].Index == 3 {
				lost = true
				return true
			}
			if lost {
				for _, e := range m.Entries {
					resent[e.Index] = true
				}
			}
		}
		if m.Type == MsgAppResp && m.From == 2 && m.Reject {
			rejects = append(rejects, m)
		}
		return false
	}
	c.stabilize()
	if !lost {
		t.Fatal("no append of entry 3 was sent to node 2")
	}
	if len(rejects) != 1 || rejects[0].Index != 3 || rejects[0].RejectHint != 2 {
		t.Fatalf("rejections %v, want one refusing the append after 3, hinting 2", rejects)
	}
	if !resent[3] || !resent[4] {
		t.Fatalf("after the loss, entries %v were resent, want 3 and 4", resent)
	}
	if got := c.appliedData(2); !slices.Equal(got, []string{"2", "3", "4"}) {
		t.Fatalf("node 2 applied %v, want [2 3 4]", got)
	}
}

// Rule 2 (duplicates and reordering): appends delivered backwards and twice
// leave the follower with the leader's log, each entry applied once; a
// stale, shorter duplicate does not truncate what followed it.
func TestScenarioReplicationDuplicateAndReorderedAppendsAreHarmless(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	for _, d := range []string{"a", "b", "c"} {
		c.propose(1, d)
	}
	c.process()
	apps := scAppsTo(c, 2) // entries 2, 3, 4
	others := scInbox(c, func(m Message) bool { return !(m.Type == MsgApp && m.To == 2) })
	c.inbox = nil

	f := c.core(2)
	for _, i := range []int{2, 1, 0, 0, 1, 2, 0} {
		if err := f.Step(apps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if last := f.log.lastIndex(); last != 4 {
		t.Fatalf("follower last index %d after a stale duplicate of entry 2, want 4", last)
	}

	c.inbox = others
	c.process()
	c.stabilize()
	for _, id := range c.ids {
		if got := c.appliedData(id); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Fatalf("node %d applied %v, want [a b c] once each", id, got)
		}
	}

	// The same appends again, long after they committed: nothing changes.
	commit := f.Status().Commit
	c.inbox = slices.Clone(apps)
	c.stabilize()
	if got := c.appliedData(2); len(got) != 3 || f.log.lastIndex() != 4 || f.Status().Commit != commit {
		t.Fatalf("stale appends changed the follower: applied %v, last %d, commit %d", got, f.log.lastIndex(), f.Status().Commit)
	}
}

// Rule 3 (batching by bytes): an append carries at most MsgBytesMax bytes
// of entries; a single entry larger than that travels alone.
func TestScenarioBatchingMsgBytesMax(t *testing.T) {
	const max = 250
	c := scNewCluster(t, 3, func(cfg *Config) { cfg.MsgBytesMax = max })
	c.elect(1)
	small, big := strings.Repeat("s", 100), strings.Repeat("B", 1000) // 124 and 1024 bytes
	c.propose(1, small, small, small, big, small)
	c.process()
	var counts []int
	for _, m := range scAppsTo(c, 2) {
		var bytes uint64
		for _, e := range m.Entries {
			bytes += e.size()
		}
		if bytes > max && len(m.Entries) != 1 {
			t.Fatalf("append of %d entries carries %d bytes > MsgBytesMax %d", len(m.Entries), bytes, max)
		}
		counts = append(counts, len(m.Entries))
	}
	if !slices.Equal(counts, []int{2, 1, 1, 1}) {
		t.Fatalf("entries per append %v, want [2 1 1 1] (the big one alone)", counts)
	}
	c.stabilize()
	if got := c.appliedData(2); !slices.Equal(got, []string{small, small, small, big, small}) {
		t.Fatalf("node 2 applied %d entries, want 5", len(got))
	}
}

// Rule 3 (batching by count): an append carries at most MsgEntriesMax
// entries.
func TestScenarioBatchingMsgEntriesMax(t *testing.T) {
	c := scNewCluster(t, 3, func(cfg *Config) { cfg.MsgEntriesMax = 3 })
	c.elect(1)
	var data []string
	for i := range 8 {
		data = append(data, fmt.Sprint(i))
	}
	c.propose(1, data...)
	c.process()
	var counts []int
	for _, m := range scAppsTo(c, 2) {
		counts = append(counts, len(m.Entries))
	}
	if !slices.Equal(counts, []int{3, 3, 2}) {
		t.Fatalf("entries per append %v, want [3 3 2]", counts)
	}
	c.stabilize()
	if got := c.appliedData(3); !slices.Equal(got, data) {
		t.Fatalf("node 3 applied %v, want %v", got, data)
	}
}

// Rule 3 (heartbeats): a heartbeat is its own message, carrying the term,
// the commit index (capped at what the follower holds) and the round, and
// nothing else — even when appends leave in the same Ready.
func TestScenarioBatchingHeartbeatsCarryOnlyTermCommitRound(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.propose(1, "a")
	c.stabilize()
	lead := c.core(1)
	c.propose(1, "b") // uncommitted: its append leaves with the heartbeats
	lead.Tick()
	c.process()
	beats, apps := 0, 0
	for _, m := range scInbox(c, func(m Message) bool { return m.From == 1 }) {
		switch m.Type {
		case MsgHeartbeat:
			beats++
			want := Message{Type: MsgHeartbeat, From: 1, To: m.To, Term: lead.term,
				Commit: lead.log.committed, Round: lead.lease.round}
			if m.String() != want.String() || m.Entries != nil || m.Context != 0 || m.Force || m.Snapshot != nil {
				t.Fatalf("heartbeat %v (%+v), want only %v", m, m, want)
			}
		case MsgApp:
			apps++
			if len(m.Entries) != 1 || string(m.Entries[0].Data) != "b" {
				t.Fatalf("append %v, want entry b", m)
			}
		default:
			t.Fatalf("unexpected %v", m)
		}
	}
	if beats != 2 || apps != 2 {
		t.Fatalf("%d heartbeats and %d appends, want 2 of each, separate", beats, apps)
	}
}

// Rule 4 (parallel append): the leader's appends leave in the same Ready as
// the entries it must persist, before its own write is acknowledged; the
// followers' copies alone commit the entry, but the leader applies it only
// once its own copy is durable.
func TestScenarioParallelAppendLeaderSendsBeforePersisting(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.nodes[1].diskPaused = true
	c.propose(1, "a")
	idx := c.core(1).log.lastIndex()
	c.process()
	for _, to := range []uint64{2, 3} {
		apps := scAppsTo(c, to)
		if len(apps) != 1 || len(apps[0].Entries) != 1 || apps[0].Entries[0].Index != idx {
			t.Fatalf("appends to %d while the leader's write is pending: %v", to, apps)
		}
	}
	if last, _ := c.nodes[1].storage.LastIndex(); last >= idx {
		t.Fatalf("leader storage already holds %d", last)
	}
	if m := c.core(1).progress(1).match; m >= idx {
		t.Fatalf("leader counts itself at %d before persisting %d", m, idx)
	}
	c.stabilize()
	if st := c.core(1).Status(); st.Commit != idx || len(c.appliedData(1)) != 0 {
		t.Fatalf("leader commit %d applied %v: want commit %d by the followers, nothing applied yet", st.Commit, c.appliedData(1), idx)
	}
	c.resumeDisk(1)
	c.stabilize()
	if got := c.appliedData(1); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("leader applied %v after its disk resumed", got)
	}
}

// Rule 4 (the leader counts itself only once persisted): with one follower
// cut off and the leader's disk paused, the other follower's ack is not a
// quorum; the entry commits when the leader's disk resumes.
func TestScenarioParallelAppendLeaderCountsItselfOnlyWhenDurable(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	before := c.core(1).Status().Commit
	c.isolate(3)
	c.nodes[1].diskPaused = true
	c.propose(1, "x")
	idx := c.core(1).log.lastIndex()
	c.stabilize()
	if c.core(1).progress(2).match != idx {
		t.Fatalf("follower 2 did not ack %d", idx)
	}
	for _, id := range []uint64{1, 2} {
		if cm := c.core(id).Status().Commit; cm != before {
			t.Fatalf("node %d commit %d with the leader's disk paused, want %d", id, cm, before)
		}
	}
	c.resumeDisk(1)
	c.stabilize()
	for _, id := range []uint64{1, 2} {
		if got := c.appliedData(id); !slices.Equal(got, []string{"x"}) {
			t.Fatalf("node %d applied %v after the leader's disk resumed", id, got)
		}
	}
}

// Rule 4 (followers ack only durable entries): a follower with its disk
// paused sends no accepting MsgAppResp, so (with the third node cut off)
// nothing commits until its disk resumes.
func TestScenarioParallelAppendFollowerAcksOnlyWhenDurable(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.isolate(3)
	var acks []Message
	scObserve(c, func(m Message) {
		if m.Type == MsgAppResp && m.From == 2 && !m.Reject {
			acks = append(acks, m)
		}
	})
	c.nodes[2].diskPaused = true
	c.propose(1, "x")
	idx := c.core(1).log.lastIndex()
	c.stabilize()
	if len(acks) != 0 || c.core(1).Status().Commit >= idx {
		t.Fatalf("follower acks %v, leader commit %d, with the follower's disk paused", acks, c.core(1).Status().Commit)
	}
	c.resumeDisk(2)
	c.stabilize()
	if len(acks) == 0 || acks[0].Index != idx {
		t.Fatalf("follower acks %v after its disk resumed, want one of %d", acks, idx)
	}
	if got := c.appliedData(1); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("leader applied %v", got)
	}
}
