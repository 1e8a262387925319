package raftpipe

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/logstore"
	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// These tests put a faultFS under every host's log and check the
// invariants that tie acknowledgement to fsync (DESIGN.md): a node never
// acknowledges an append it has not synced, the leader never counts
// itself before its own sync, and nothing reaches a client before it is
// committed. Every wait is for an event (a sync parked, a sync done, a
// host failed), never for time to pass.

const diskWaitMax = 20 * time.Second // how long an event may take before the test gives up

// newDiskCluster starts n hosts running group 1, each with its own faultFS.
func newDiskCluster(t *testing.T, n int, tune func(cfg *Config)) (*cluster, []*faultFS) {
	t.Helper()
	fss := make([]*faultFS, n)
	c := newCluster(t, n, 1, func(i int, cfg *Config, o *hostOptions) {
		fss[i] = newFaultFS()
		o.walFS = fss[i]
		if tune != nil {
			tune(cfg)
		}
	})
	// Every host has applied a first write: a leader is elected and
	// nothing proposed before the test's faults is still on its way.
	c.put(1, "warm", "up")
	for i := range c.hosts {
		c.waitValue(i, 1, "warm", "up")
	}
	return c, fss
}

// waitEvent fails the test unless ch closes within diskWaitMax.
func waitEvent(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(diskWaitMax):
		t.Fatalf("gave up waiting: %s", what)
	}
}

type asyncProposal struct {
	res []byte
	err error
}

// asyncPropose proposes cmd to group 1 on h from a goroutine; the result
// arrives on the channel.
func asyncPropose(t *testing.T, h *Host, cmd []byte) <-chan asyncProposal {
	out := make(chan asyncProposal, 1)
	go func() {
		res, err := h.Propose(t.Context(), 1, cmd)
		out <- asyncProposal{res, err}
	}()
	return out
}

// letPipelineRun waits until h's step workers have handled n more drains
// (ticks alone cause one every TickInterval), so that a host that would
// acknowledge too early has had every chance to. It reads the engine's
// counters, not Host.Stats, which waits for a parked sync (see
// TestStatsNotBlockedByStalledLogWrite).
func letPipelineRun(t *testing.T, h *Host, n uint64) {
	t.Helper()
	drains := func() (sum uint64) {
		for _, w := range h.engine.Stats().Workers {
			sum += w.Batches
		}
		return sum
	}
	deadline := time.Now().Add(diskWaitMax)
	for start := drains(); drains() < start+n; {
		if time.Now().After(deadline) {
			t.Fatalf("host %d: its workers handled no %d drains", h.NodeID(), n)
		}
		<-time.After(time.Millisecond)
	}
}

// notApplied fails the test if host i's state machine holds key.
func notApplied(t *testing.T, c *cluster, i int, key string) {
	t.Helper()
	if v, err := c.sms[i][1].Lookup([]byte(key)); !errors.Is(err, fsm.ErrNotFound) {
		t.Fatalf("host %d applied %s=%q (%v) though its copy is not durable", i+1, key, v, err)
	}
}

// A follower whose disk stalls for good does not hold commits back: the
// leader and the other follower are a quorum. The stalled follower
// applies none of it (it may apply only what it has synced) until its disk
// comes back, and then catches up. The "backed up" case shrinks the rings
// so that the stalled host's whole pipeline fills: its fsync ring, then
// its step worker, then the transport reading from the leader, which must
// still not reach back to the leader.
func TestDiskSlowFollowerDoesNotSlowCommits(t *testing.T) {
	for _, tc := range []struct {
		name string
		tune func(cfg *Config)
	}{
		{"idle", nil},
		{"backed up", func(cfg *Config) { cfg.FsyncQueue, cfg.WorkerQueue = 2, 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, fss := newDiskCluster(t, 3, tc.tune)
			ld := c.leader(1)
			slow := (ld + 1) % 3
			other := 3 - ld - slow
			parked := fss[slow].holdSyncs(t, nil)

			const n = 50
			key := func(k int) string { return fmt.Sprintf("slow-%d", k) }
			for k := range n {
				c.put(1, key(k), "v")
			}
			// The writes were acknowledged with the slow host's disk in the
			// way the whole time: it parked a sync, and has applied none.
			waitEvent(t, parked, "the slow follower's first sync parks")
			for k := range n {
				notApplied(t, c, slow, key(k))
			}
			c.waitValue(other, 1, key(n-1), "v")

			fss[slow].release()
			for k := range n {
				c.waitValue(slow, 1, key(k), "v")
			}
		})
	}
}

// A proposal is acknowledged only after a quorum has synced it. With one
// voter the quorum is the leader's own disk; with three, the leader's
// disk is not enough, and one follower's is.
func TestFsyncSlowNoAckBeforeDurable(t *testing.T) {
	t.Run("single voter", func(t *testing.T) {
		c, fss := newDiskCluster(t, 1, nil)
		h := c.hosts[0]
		before, _ := h.Status(1)
		cmd := fsm.EncodePut(nil, []byte("held"), []byte("v1"))
		parked := fss[0].holdSyncs(t, cmd)
		res := asyncPropose(t, h, cmd)

		waitEvent(t, parked, "the sync of the proposal parks")
		letPipelineRun(t, h, 5)
		select {
		case r := <-res:
			t.Fatalf("proposal returned (%v, %v) while its only copy's sync was parked", r.res, r.err)
		default:
		}
		if st, _ := h.Status(1); st.Commit != before.Commit {
			t.Fatalf("commit moved %d -> %d with the leader's sync parked", before.Commit, st.Commit)
		}
		notApplied(t, c, 0, "held")

		fss[0].release()
		if r := waitProposal(t, res); r.err != nil || len(r.res) != 1 || r.res[0] != fsm.StatusOK {
			t.Fatalf("proposal after the sync: (%v, %v), want OK", r.res, r.err)
		}
		c.waitValue(0, 1, "held", "v1")
	})

	t.Run("three voters followers held", func(t *testing.T) {
		c, fss := newDiskCluster(t, 3, nil)
		ld := c.leader(1)
		h := c.hosts[ld]
		f1, f2 := (ld+1)%3, (ld+2)%3
		before, _ := h.Status(1)
		cmd := fsm.EncodePut(nil, []byte("held"), []byte("v1"))
		leaderSynced := fss[ld].synced(cmd)
		parked1 := fss[f1].holdSyncs(t, cmd)
		parked2 := fss[f2].holdSyncs(t, cmd)
		res := asyncPropose(t, h, cmd)

		// The leader's copy is durable and both followers have written
		// theirs, but neither has synced it: one vote of three.
		waitEvent(t, leaderSynced, "the leader syncs the proposal")
		waitEvent(t, parked1, "follower 1's sync of the proposal parks")
		waitEvent(t, parked2, "follower 2's sync of the proposal parks")
		letPipelineRun(t, h, 5)
		select {
		case r := <-res:
			t.Fatalf("proposal returned (%v, %v) with only the leader's copy durable", r.res, r.err)
		default:
		}
		if st, _ := h.Status(1); st.Role != Leader || st.Commit != before.Commit {
			t.Fatalf("leader status %+v with both followers' syncs parked; commit was %d", st, before.Commit)
		}
		for i := range c.hosts {
			notApplied(t, c, i, "held")
		}

		fss[f1].release() // two of three: a quorum
		if r := waitProposal(t, res); r.err != nil || len(r.res) != 1 || r.res[0] != fsm.StatusOK {
			t.Fatalf("proposal after a follower's sync: (%v, %v), want OK", r.res, r.err)
		}
		c.waitValue(f1, 1, "held", "v1")
		notApplied(t, c, f2, "held")

		fss[f2].release()
		c.waitValue(f2, 1, "held", "v1")
	})
}

// A sync that fails stops the host (fail-stop): the proposal it carried
// is never acknowledged, the host reports the sync error, and stopping it
// neither hangs nor panics. Its log opens again afterwards.
func TestFsyncFailureNoAck(t *testing.T) {
	c, fss := newDiskCluster(t, 1, nil)
	h := c.hosts[0]
	cmd := fsm.EncodePut(nil, []byte("lost"), []byte("v1"))
	failed := fss[0].failSyncs(vfs.ErrInjected, cmd)
	res := asyncPropose(t, h, cmd)

	waitEvent(t, failed, "the sync of the proposal fails")
	waitEvent(t, h.Failed(), "the host reports the failure")
	err := h.Err()
	if !errors.Is(err, vfs.ErrInjected) || !errors.Is(err, logstore.ErrFailed) || !strings.Contains(err.Error(), "sync") {
		t.Fatalf("host error %v: want the failed sync, as logstore.ErrFailed", err)
	}
	// The host stops itself (fail-stop): the waiting proposal fails
	// without anyone calling Stop, and nothing was committed or applied.
	if r := waitProposal(t, res); !errors.Is(r.err, ErrStopped) {
		t.Fatalf("proposal whose sync failed returned (%v, %v), want ErrStopped", r.res, r.err)
	}
	if _, err := h.Propose(t.Context(), 1, cmd); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose to a failed host: %v, want ErrStopped", err)
	}
	notApplied(t, c, 0, "lost")

	stopped := make(chan error, 1)
	go func() { stopped <- h.Stop() }()
	select {
	case err := <-stopped:
		if !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("Stop returned %v, want the sync failure", err)
		}
	case <-time.After(diskWaitMax):
		t.Fatal("Stop of a failed host hangs")
	}
	c.hosts[0] = nil // stopped, with an error the cluster's cleanup would report

	// What the failed sync wrote may or may not be in the log (the page
	// cache may still hold it): either way the log opens and serves.
	fss[0].release()
	c.restart(0)
	c.put(1, "after", "restart")
}

func waitProposal(t *testing.T, res <-chan asyncProposal) asyncProposal {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(diskWaitMax):
		t.Fatal("the proposal never returned")
		return asyncProposal{}
	}
}

// Host.Stats, what the metrics layer scrapes, answers while the log's
// sync is stalled: a disk that hangs is exactly when an operator needs
// the counters.
// (logstore.Store.Stats once took the lock a write holds through its
// fdatasync.)
func TestStatsNotBlockedByStalledLogWrite(t *testing.T) {
	c, fss := newDiskCluster(t, 1, nil)
	h := c.hosts[0]
	cmd := fsm.EncodePut(nil, []byte("held"), []byte("v1"))
	parked := fss[0].holdSyncs(t, cmd)
	asyncPropose(t, h, cmd)
	waitEvent(t, parked, "the sync of the proposal parks")

	done := make(chan struct{})
	go func() {
		h.Stats()
		close(done)
	}()
	waitEvent(t, done, "Host.Stats returns while a log sync is parked")
}

// A leader whose log disk hangs (a sync that never returns) fails itself
// with ErrDiskStall after DiskStallTimeout and stops heartbeating, so the
// others elect a leader and serve writes again. Without the check the
// stalled leader kept its followers from ever campaigning, and every write
// of the group waited on its disk.
func TestDiskStallFailsTheLeaderAndTheOthersGoOn(t *testing.T) {
	c, fss := newDiskCluster(t, 3, func(cfg *Config) {
		cfg.DiskStallTimeout = 500 * time.Millisecond // the default election timeout is 200 ms
	})
	ld := c.leader(1)
	h := c.hosts[ld]
	cmd := fsm.EncodePut(nil, []byte("stalled"), []byte("v1"))
	parked := fss[ld].holdSyncs(t, cmd)
	asyncPropose(t, h, cmd)
	waitEvent(t, parked, "the leader's sync of the proposal parks")

	waitEvent(t, h.Failed(), "the leader fails on its stalled disk")
	if err := h.Err(); !errors.Is(err, ErrDiskStall) {
		t.Fatalf("host error %v, want ErrDiskStall", err)
	}
	// Stop returns although the write is still parked.
	stopped := make(chan error, 1)
	go func() { stopped <- h.Stop() }()
	select {
	case err := <-stopped:
		if !errors.Is(err, ErrDiskStall) {
			t.Fatalf("Stop returned %v, want ErrDiskStall", err)
		}
	case <-time.After(diskWaitMax):
		t.Fatal("Stop of a host with a stalled disk hangs")
	}
	c.hosts[ld] = nil

	c.put(1, "after", "stall")
	if i := c.leader(1); i == ld {
		t.Fatalf("host %d still leads", ld+1)
	}
}
