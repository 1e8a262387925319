package consensus

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// scLaggingFollower leaves node 3 behind by ten entries, then compacts the
// leader's storage two entries short of its log's end, beyond node 3's next
// index. It returns the compaction index.
func scLaggingFollower(t *testing.T, c *cluster) uint64 {
	c.elect(1)
	c.isolate(3)
	for i := range 10 {
		c.propose(1, fmt.Sprint(i))
	}
	c.stabilize()
	lead := c.core(1)
	at := lead.Status().Commit - 2
	if err := c.nodes[1].storage.Compact(at, lead.Membership()); err != nil {
		t.Fatal(err)
	}
	if m := lead.progress(3).match; m+1 > at {
		t.Fatalf("setup: node 3 matches %d, not behind the compaction at %d", m, at)
	}
	if _, err := lead.log.term(lead.progress(3).match); !errors.Is(err, ErrCompacted) {
		t.Fatalf("setup: entries node 3 needs are still there: %v", err)
	}
	return at
}

// Rule 10 (snapshots): the leader, whose storage no longer holds what a
// lagging follower needs, sends MsgSnap; the follower's Ready carries the
// snapshot (the harness persists and installs it); the follower then
// catches up through ordinary appends.
func TestScenarioSnapshotCatchesUpLaggingFollower(t *testing.T) {
	c := newCluster(t, 3)
	at := scLaggingFollower(t, c)
	var snaps []Message
	scObserve(c, func(m Message) {
		if m.Type == MsgSnap {
			snaps = append(snaps, m)
		}
	})
	c.heal()
	c.tick(1) // node 3 answers a heartbeat; the leader finds its entries gone
	if len(snaps) != 1 || snaps[0].To != 3 || snaps[0].Snapshot.Index != at ||
		snaps[0].Snapshot.Term != c.core(1).Status().Term ||
		!slices.Equal(snaps[0].Snapshot.Membership.Voters, []uint64{1, 2, 3}) {
		t.Fatalf("snapshot messages %v, want one to 3 at index %d", snaps, at)
	}
	if s, _ := c.nodes[3].storage.Snapshot(); s.Index != at {
		t.Fatalf("node 3 storage snapshot %+v: its Ready did not carry the snapshot at %d", s, at)
	}
	c.propose(1, "after")
	c.stabilize()
	f, lead := c.core(3), c.core(1)
	if f.log.lastIndex() != lead.log.lastIndex() || f.Status().Commit != lead.Status().Commit {
		t.Fatalf("follower last %d commit %d, leader last %d commit %d",
			f.log.lastIndex(), f.Status().Commit, lead.log.lastIndex(), lead.Status().Commit)
	}
	// The state machine got the snapshot, then exactly the entries after it.
	if got := c.applied[3]; len(got) == 0 || got[0].Index != at+1 {
		t.Fatalf("after the snapshot node 3 applied %v, want entries from %d", got, at+1)
	}
	if got := c.appliedData(3); !slices.Equal(got, []string{"8", "9", "after"}) {
		t.Fatalf("node 3 applied %v after the snapshot", got)
	}
}

// Rule 10 (failed snapshot): when the transport reports that a snapshot
// did not arrive, the leader probes again and sends a new one.
func TestScenarioSnapshotRetriedAfterFailureReport(t *testing.T) {
	c := newCluster(t, 3)
	at := scLaggingFollower(t, c)
	sent := 0
	c.drop = func(m Message) bool {
		if m.Type == MsgSnap {
			sent++
			return sent == 1 // the first one is lost
		}
		return false
	}
	c.heal()
	c.tick(1)
	if sent != 1 {
		t.Fatalf("%d snapshots sent, want 1", sent)
	}
	c.core(1).ReportSnapshot(3, false)
	c.tick(1)
	if sent != 2 {
		t.Fatalf("%d snapshots sent after ReportSnapshot(3, false) and a heartbeat, want 2", sent)
	}
	if s, _ := c.nodes[3].storage.Snapshot(); s.Index != at {
		t.Fatalf("node 3 snapshot %+v, want %d", s, at)
	}
	c.stabilize()
	if got := c.appliedData(3); !slices.Equal(got, []string{"8", "9"}) {
		t.Fatalf("node 3 applied %v after the snapshot", got)
	}
}

// Rule 11 (bounded memory): beyond UncommittedBytesMax a leader refuses
// proposals with ErrUncommittedFull, and accepts them again once the
// entries commit. A batch proposed while nothing is uncommitted is taken
// whatever its size.
func TestScenarioUncommittedBytesBounded(t *testing.T) {
	const entry = 10 + entryOverhead
	c := scNewCluster(t, 3, func(cfg *Config) { cfg.UncommittedBytesMax = 3 * entry })
	c.elect(1)
	lead := c.core(1)
	data := strings.Repeat("d", 10)
	c.isolate(1) // nothing commits
	for i := range 3 {
		if _, _, err := lead.Propose([]Entry{{Data: []byte(data)}}); err != nil {
			t.Fatalf("proposal %d within the budget: %v", i, err)
		}
	}
	_, _, err := lead.Propose([]Entry{{Data: []byte(data)}})
	if !errors.Is(err, ErrUncommittedFull) {
		t.Fatalf("proposal beyond the budget: %v, want ErrUncommittedFull", err)
	}
	c.heal()
	c.tick(1)
	if cm, last := lead.Status().Commit, lead.log.lastIndex(); cm != last {
		t.Fatalf("commit %d, last %d: setup did not commit", cm, last)
	}
	big := make([]Entry, 5) // 5 entries > the whole budget
	for i := range big {
		big[i].Data = []byte(data)
	}
	if _, _, err := lead.Propose(big); err != nil {
		t.Fatalf("oversized batch with nothing uncommitted: %v", err)
	}
	if _, _, err := lead.Propose([]Entry{{Data: []byte(data)}}); !errors.Is(err, ErrUncommittedFull) {
		t.Fatalf("proposal after the oversized batch: %v, want ErrUncommittedFull", err)
	}
	c.stabilize()
	c.propose(1, "again")
	c.stabilize()
	if got := c.appliedData(2); len(got) != 9 || got[8] != "again" {
		t.Fatalf("node 2 applied %d entries %v, want 9 ending with again", len(got), got)
	}
}
