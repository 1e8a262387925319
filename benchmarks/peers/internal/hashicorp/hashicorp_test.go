package hashicorp

import (
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/benchmarks/peers/internal/workload"
)

// TestSmoke runs the workload for about a second with two clients and
// checks that writes complete, that every node's FSM applied the same
// entries, at least as many as were acknowledged, and that raft-wal's
// counters saw the appends.
func TestSmoke(t *testing.T) {
	c, err := Start(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := workload.Config{Payload: 16, Clients: 2, Groups: 1, Duration: time.Second, Warmup: 200 * time.Millisecond}
	r, st, err := workload.Run("hashicorp", c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v; %s", r, st)
	if st.Ops == 0 || r.OpsPerSec <= 0 || r.P50us <= 0 {
		t.Errorf("no writes measured: %+v", r)
	}
	if st.Errors != 0 {
		t.Errorf("%d writes given up", st.Errors)
	}
	// Each write is appended on three nodes (at least two before it is
	// acknowledged), a batch holds one write or more; the counters are read
	// at the window's edges, so allow for the writes in flight there.
	if st.SyncedEnts < 2*(st.Ops-uint64(cfg.Clients)) || st.Syncs == 0 || r.EntriesPerFsync < 0.9 {
		t.Errorf("raft-wal counted %d entries in %d syncs for %d writes (entries_per_fsync %v)",
			st.SyncedEnts, st.Syncs, st.Ops, r.EntriesPerFsync)
	}
	counts, err := workload.WaitConverged(c.Applied, st.TotalOps, 10*time.Second)
	if err != nil {
		t.Error(err)
	}
	t.Logf("applied %v, acknowledged %d", counts, st.TotalOps)
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestRefusesGroups(t *testing.T) {
	if c, err := Start(t.TempDir(), 2); err == nil {
		c.Close()
		t.Fatal("started 2 groups")
	}
}
