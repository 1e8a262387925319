package raftpipe

import (
	"fmt"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/fsm"
)

// syncedKV is a MemKV that calls its state durable, as an on-disk machine
// after Sync, so that the hosts compact their logs behind snapshots.
type syncedKV struct{ *fsm.MemKV }

func (syncedKV) Sync() error { return nil }

// A follower down while the others write on and compact their logs past
// it comes back, is sent a snapshot (its log no longer exists on the
// leader), loads it, and ends with the leader's state, key for key.
func TestFollowerCatchesUpBySnapshot(t *testing.T) {
	tune := func(_ int, cfg *Config, _ *hostOptions) { cfg.SnapshotEntries, cfg.SnapshotTailEntries = 100, 20 }
	c := newCluster(t, 3, 1, tune, func(m *fsm.MemKV) fsm.StateMachine { return syncedKV{m} })
	c.put(1, "first", "1")
	ld := c.leader(1)
	down := (ld + 1) % 3
	c.stop(down)
	for i := range 600 {
		c.put(1, fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	// Write on until the leader's log starts well past what the follower
	// has (snapshots follow the writes, a few behind).
	c.writeUntilCompacted(c.leader(1), 400)
	c.restart(down)
	c.waitValue(down, 1, "k599", "599")
	ld = c.leader(1)
	want, got := c.sms[ld][1], c.sms[down][1]
	if want.Len() != got.Len() {
		t.Fatalf("the follower holds %d keys, the leader %d", got.Len(), want.Len())
	}
	for i := range 600 {
		k := []byte(fmt.Sprintf("k%03d", i))
		a, _ := want.Lookup(k)
		b, _ := got.Lookup(k)
		if string(a) != string(b) {
			t.Fatalf("%s: leader %q, follower %q", k, a, b)
		}
	}
	if st := c.hosts[down].Stats().Stages; st.Apply.Items >= 600 {
		t.Fatalf("the follower applied %d entries: it replayed the log instead of loading a snapshot", st.Apply.Items)
	}
	c.put(1, "after", "catch-up")
	c.waitValue(down, 1, "after", "catch-up")
}

// A host whose state machine lives in memory, restarted after its log was
// compacted behind a snapshot, loads that snapshot from its own folder
// and replays only the log after it.
func TestInMemoryRestartFromLocalSnapshot(t *testing.T) {
	tune := func(_ int, cfg *Config, _ *hostOptions) { cfg.SnapshotEntries, cfg.SnapshotTailEntries = 100, 20 }
	c := newCluster(t, 3, 1, tune)
	for i := range 600 {
		c.put(1, fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	victim := (c.leader(1) + 1) % 3
	c.writeUntilCompacted(victim, 400)
	c.stop(victim)
	c.restart(victim) // fresh MemKVs: the snapshot, then the log's tail
	c.waitValue(victim, 1, "k000", "0")
	c.waitValue(victim, 1, "k599", "599")
	if items := c.hosts[victim].Stats().Stages.Apply.Items; items >= 600 {
		t.Fatalf("the restarted host applied %d entries: it replayed the whole log", items)
	}
}

// writeUntilCompacted writes extra keys to group 1 until host i's log
// starts past first (or fails the test after 20 s).
func (c *cluster) writeUntilCompacted(i int, first uint64) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for n := 0; c.hosts[i].store.GroupStats(1).First < first; n++ {
		if time.Now().After(deadline) {
			c.t.Fatalf("host %d's log still starts at %d", i+1, c.hosts[i].store.GroupStats(1).First)
		}
		c.put(1, fmt.Sprintf("extra-%d", n), "x")
	}
}
