package consensus

import (
	"errors"
	"slices"
	"testing"
)

// Rule 6 (ReadIndex batching): ten reads before one Ready share a single
// heartbeat round — one MsgHeartbeat per follower — and all come back at
// the commit index.
func TestScenarioReadIndexBatchSharesOneHeartbeatRound(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.propose(1, "a")
	c.stabilize()
	lead := c.core(1)
	commit := lead.Status().Commit
	var want []ReadState
	for ctx := uint64(1); ctx <= 10; ctx++ {
		if err := lead.ReadIndex(ctx); err != nil {
			t.Fatal(err)
		}
		want = append(want, ReadState{Index: commit, Context: ctx})
	}
	beats := map[uint64]int{}
	scObserve(c, func(m Message) {
		if m.Type == MsgHeartbeat {
			beats[m.To]++
		}
	})
	c.stabilize()
	if beats[2] != 1 || beats[3] != 1 {
		t.Fatalf("heartbeats per follower %v, want one each", beats)
	}
	if !slices.Equal(c.reads[1], want) {
		t.Fatalf("read states %v, want %v", c.reads[1], want)
	}
}

// Rule 6 (new leader): a leader's reads wait until the no-op of its term
// commits — before that its commit index may lag its predecessor's — and
// open no round meanwhile.
func TestScenarioReadIndexNewLeaderWaitsForItsNoop(t *testing.T) {
	c := newCluster(t, 3)
	c.drop = func(m Message) bool { return m.Type == MsgAppResp && m.To == 1 }
	c.elect(1)
	lead := c.core(1)
	noop := lead.log.lastIndex()
	if lead.Status().Commit >= noop {
		t.Fatal("setup: the no-op committed")
	}
	if err := lead.ReadIndex(7); err != nil {
		t.Fatal(err)
	}
	beats := 0
	scObserve(c, func(m Message) {
		if m.Type == MsgHeartbeat {
			beats++
		}
	})
	c.stabilize()
	if len(c.reads[1]) != 0 || beats != 0 {
		t.Fatalf("before the no-op commits: read states %v, %d heartbeats", c.reads[1], beats)
	}
	c.drop = nil
	c.tick(1)
	if want := []ReadState{{Index: noop, Context: 7}}; !slices.Equal(c.reads[1], want) {
		t.Fatalf("read states %v, want %v", c.reads[1], want)
	}
}

// Rule 6 (follower read): ReadIndex on a follower asks the leader and comes
// back with the leader's commit index, even though the follower itself has
// not learned that commit yet.
func TestScenarioReadIndexOnFollower(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.drop = func(m Message) bool { return m.Type == MsgApp && m.To == 2 }
	c.propose(1, "a")
	c.stabilize()
	commit := c.core(1).Status().Commit
	if c.core(2).Status().Commit >= commit {
		t.Fatal("setup: follower 2 knows the commit")
	}
	if err := c.core(2).ReadIndex(42); err != nil {
		t.Fatal(err)
	}
	c.stabilize()
	if want := []ReadState{{Index: commit, Context: 42}}; !slices.Equal(c.reads[2], want) {
		t.Fatalf("follower read states %v, want %v", c.reads[2], want)
	}
	if len(c.reads[1]) != 0 {
		t.Fatalf("leader got read states %v for the follower's read", c.reads[1])
	}
}

// Rule 6 (dropped reads): reads pending on a leader that steps down come
// back Dropped — its own as ReadStates, a follower's through a rejection.
func TestScenarioReadIndexDroppedWhenLeaderStepsDown(t *testing.T) {
	c := newCluster(t, 5)
	E := c.core(1).cfg.ElectionTicks
	c.elect(1)
	for _, a := range []uint64{1, 2} { // {1, 2} | {3, 4, 5}: no quorum for 1
		for _, b := range []uint64{3, 4, 5} {
			c.cut[[2]uint64{a, b}], c.cut[[2]uint64{b, a}] = true, true
		}
	}
	if err := c.core(1).ReadIndex(5); err != nil {
		t.Fatal(err)
	}
	if err := c.core(2).ReadIndex(9); err != nil {
		t.Fatal(err)
	}
	c.stabilize()
	if len(c.reads[1])+len(c.reads[2]) != 0 {
		t.Fatalf("reads confirmed without a quorum: %v %v", c.reads[1], c.reads[2])
	}
	for i := 0; c.core(1).role == Leader; i++ {
		if i > 2*E {
			t.Fatal("leader without quorum never stepped down")
		}
		c.tick(1)
	}
	if want := []ReadState{{Context: 5, Dropped: true}}; !slices.Equal(c.reads[1], want) {
		t.Fatalf("leader read states %v, want %v", c.reads[1], want)
	}
	if want := []ReadState{{Context: 9, Dropped: true}}; !slices.Equal(c.reads[2], want) {
		t.Fatalf("follower read states %v, want %v", c.reads[2], want)
	}
}

// scLeaseCluster has a 10-tick election timeout and a 2-tick drift margin.
func scLeaseCluster(t *testing.T) *cluster {
	return scNewCluster(t, 3, func(cfg *Config) {
		cfg.ElectionTicks = 10
		cfg.LeaseDriftTicks = 2
	})
}

// Rule 7 (lease expiry): once a quorum acknowledges the round started at
// tick t, the lease runs to t+ElectionTicks-LeaseDriftTicks; with no more
// acks it is valid up to the tick before that and not at it.
func TestScenarioLeaseExpiryFollowsAckedRound(t *testing.T) {
	c := scLeaseCluster(t)
	c.elect(1)
	lead := c.core(1)
	lead.Tick() // opens a heartbeat round at this tick
	start := lead.Status().Now
	c.stabilize()
	expiry := start + 10 - 2
	if st := lead.Status(); st.LeaseExpiry != expiry || !st.LeaseValid() {
		t.Fatalf("lease after round at %d was acked: %+v, want expiry %d", start, st, expiry)
	}
	c.isolate(1)
	for lead.Status().Now+1 < expiry {
		lead.Tick()
		c.stabilize()
		if st := lead.Status(); !st.LeaseValid() || st.LeaseExpiry != expiry {
			t.Fatalf("at tick %d without acks: %+v, want lease valid until %d", st.Now, st, expiry)
		}
	}
	lead.Tick()
	if st := lead.Status(); st.Role != Leader || st.LeaseValid() {
		t.Fatalf("at tick %d: %+v, want a leader whose lease ran out", st.Now, st)
	}
}

// Rule 7 (renewal by writes): appends carry the current round, so a
// committed write renews the lease from the latest round's start even
// when the heartbeats of that round were lost.
func TestScenarioLeaseRenewedByCommittedWrites(t *testing.T) {
	c := scLeaseCluster(t)
	c.elect(1)
	lead := c.core(1)
	lead.Tick()
	first := lead.Status().Now
	c.stabilize()
	c.drop = func(m Message) bool { return m.Type == MsgHeartbeat }
	for range 3 {
		lead.Tick()
		c.stabilize()
	}
	if got := lead.Status().LeaseExpiry; got != first+8 {
		t.Fatalf("lease %d with heartbeats lost, want %d", got, first+8)
	}
	last := lead.Status().Now
	c.propose(1, "w")
	c.stabilize()
	if got := lead.Status().LeaseExpiry; got != last+8 {
		t.Fatalf("lease %d after a write committed in the round of tick %d, want %d", got, last, last+8)
	}
}

// Rule 7 (losing the lease): the lease is 0 after stepping down.
func TestScenarioLeaseZeroAfterStepDown(t *testing.T) {
	c := scLeaseCluster(t)
	c.elect(1)
	lead := c.core(1)
	lead.Tick()
	c.stabilize()
	if !lead.Status().LeaseValid() {
		t.Fatal("setup: no lease")
	}
	c.isolate(1)
	for i := 0; lead.role == Leader; i++ {
		if i > 20 {
			t.Fatal("isolated leader never stepped down")
		}
		c.tick(1)
	}
	if st := lead.Status(); st.LeaseExpiry != 0 || st.LeaseValid() {
		t.Fatalf("after stepping down: %+v, want no lease", st)
	}
}

// Rule 7 (transfers suspend the lease): the lease is 0 as soon as a
// transfer starts, before any MsgTimeoutNow left (here the target lags and
// is unreachable, so none can).
func TestScenarioLeaseZeroOnceTransferStarts(t *testing.T) {
	c := scLeaseCluster(t)
	c.elect(1)
	c.isolate(3)
	c.propose(1, "a")
	c.stabilize()
	lead := c.core(1)
	lead.Tick()
	c.stabilize()
	if !lead.Status().LeaseValid() {
		t.Fatal("setup: no lease")
	}
	if err := lead.TransferLeadership(3); err != nil {
		t.Fatal(err)
	}
	for _, m := range lead.msgs {
		if m.Type == MsgTimeoutNow {
			t.Fatal("setup: MsgTimeoutNow sent to a lagging target")
		}
	}
	if st := lead.Status(); st.Transferee != 3 || st.LeaseExpiry != 0 || st.LeaseValid() {
		t.Fatalf("transfer started: %+v, want no lease", st)
	}
	c.tick(1) // acks keep coming from node 2: still no lease
	if st := lead.Status(); st.Transferee != 3 || st.LeaseExpiry != 0 {
		t.Fatalf("during the transfer: %+v, want no lease", st)
	}
}

// Rule 7 (transfers forfeit the lease): the lease is 0 as soon as a transfer
// starts; once a MsgTimeoutNow has left, it does not come back in that term,
// even after the transfer is abandoned and heartbeats are acked again.
func TestScenarioLeaseForfeitedByTransfer(t *testing.T) {
	c := scLeaseCluster(t)
	c.elect(1)
	lead := c.core(1)
	lead.Tick()
	c.stabilize()
	term := lead.Status().Term
	timeoutNows := 0
	c.drop = func(m Message) bool {
		if m.Type == MsgTimeoutNow {
			timeoutNows++
			return true // the target never hears it
		}
		return false
	}
	if err := lead.TransferLeadership(2); err != nil {
		t.Fatal(err)
	}
	if st := lead.Status(); st.LeaseExpiry != 0 {
		t.Fatalf("transfer started, lease %d, want 0", st.LeaseExpiry)
	}
	for i := 0; lead.Status().Transferee != 0; i++ {
		if i > 10 {
			t.Fatal("transfer never abandoned")
		}
		c.tick(1)
		if got := lead.Status().LeaseExpiry; got != 0 {
			t.Fatalf("lease %d during the transfer", got)
		}
	}
	if timeoutNows == 0 {
		t.Fatal("no MsgTimeoutNow was sent to the caught-up target")
	}
	c.propose(1, "after")
	for range 5 {
		c.tick(1)
		if st := lead.Status(); st.Role != Leader || st.Term != term || st.LeaseExpiry != 0 {
			t.Fatalf("after the abandoned transfer: %+v, want leader of term %d without lease", st, term)
		}
	}
	if got := c.appliedData(1); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("leader applied %v", got)
	}
}

// Rule 6/7 (errors): ReadIndex on a follower that knows no leader fails.
func TestScenarioReadIndexWithoutLeader(t *testing.T) {
	c := newCluster(t, 3)
	if err := c.core(2).ReadIndex(1); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("ReadIndex without a leader: %v, want ErrNoLeader", err)
	}
}
