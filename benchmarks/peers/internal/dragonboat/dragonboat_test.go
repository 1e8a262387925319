package dragonboat

import (
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/benchmarks/peers/internal/workload"
)

// TestSmoke runs the workload for about a second with two clients and
// checks that writes complete and that every replica of every group applied
// the same entries, at least as many as were acknowledged.
func TestSmoke(t *testing.T) {
	for _, groups := range []int{1, 2} {
		c, err := Start(t.TempDir(), groups)
		if err != nil {
			t.Fatal(err)
		}
		cfg := workload.Config{Payload: 16, Clients: 2, Groups: groups, Duration: time.Second, Warmup: 200 * time.Millisecond}
		r, st, err := workload.Run("dragonboat", c, cfg)
		if err != nil {
			c.Close()
			t.Fatal(err)
		}
		t.Logf("groups %d: %+v; %s", groups, r, st)
		if st.Ops == 0 || r.OpsPerSec <= 0 || r.P50us <= 0 {
			t.Errorf("groups %d: no writes measured: %+v", groups, r)
		}
		if st.Errors != 0 {
			t.Errorf("groups %d: %d writes given up", groups, st.Errors)
		}
		counts, err := workload.WaitConverged(c.Applied, st.TotalOps, 10*time.Second)
		if err != nil {
			t.Errorf("groups %d: %v", groups, err)
		}
		for g, reps := range counts {
			if reps[0] == 0 {
				t.Errorf("groups %d: group %d applied nothing", groups, g)
			}
		}
		t.Logf("groups %d: applied %v, acknowledged %d", groups, counts, st.TotalOps)
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
}
