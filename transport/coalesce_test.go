package transport

import (
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
)

// The heartbeats of every group between two nodes in one tick travel as
// one frame, and so do their responses: frames per tick stay flat from 10
// groups to 1,000 while the tuples they carry grow a hundredfold.
func TestHeartbeatFramesDoNotGrowWithGroups(t *testing.T) {
	const ticks = 40
	perTick := map[int]float64{}
	for _, groups := range []int{10, 1000} {
		trs, recs := cluster(t, 2, nil)
		for tick := uint64(1); tick <= ticks; tick++ {
			hbs := make([]Msg, groups)
			for g := range hbs {
				hbs[g] = heartbeat(uint64(g+1), 1, 2, tick)
			}
			trs[0].Send(hbs)
			waitFor(t, 10*time.Second, "heartbeats", func() bool { return recs[1].count() == int(tick)*groups })
			resps := make([]Msg, groups)
			for g := range resps {
				resps[g] = Msg{Group: uint64(g + 1), Message: consensus.Message{Type: consensus.MsgHeartbeatResp, From: 2, To: 1, Term: 2, Round: tick}}
			}
			trs[1].Send(resps)
			waitFor(t, 10*time.Second, "responses", func() bool { return recs[0].count() == int(tick)*groups })
		}
		// A writer counts a write after it returns, which can be after the
		// receiver has the messages.
		var s1, s2 Stats
		waitFor(t, 5*time.Second, "the writers' counts", func() bool {
			s1, s2 = trs[0].Stats(), trs[1].Stats()
			return s1.HeartbeatsSent == uint64(groups*ticks) && s2.HeartbeatsSent == uint64(groups*ticks)
		})
		perTick[groups] = float64(s1.HeartbeatFramesSent+s2.HeartbeatFramesSent) / ticks
		t.Logf("%4d groups: %.2f heartbeat frames per tick (both directions), %d tuples", groups, perTick[groups], s1.HeartbeatsSent+s2.HeartbeatsSent)
		// One frame each way per tick; a drain may catch a batch half
		// published and split it, which is rare and bounded.
		if perTick[groups] > 2.5 {
			t.Errorf("%d groups: %.2f heartbeat frames per tick, want about 2", groups, perTick[groups])
		}
		for _, m := range recs[1].messages() {
			if m.Type != consensus.MsgHeartbeat || m.Commit != m.Group || m.Term != 2 {
				t.Fatalf("heartbeat decoded as %v", m)
			}
		}
	}
	if perTick[1000] > perTick[10]+0.5 {
		t.Errorf("heartbeat frames per tick grew from %.2f (10 groups) to %.2f (1,000 groups)", perTick[10], perTick[1000])
	}
}
