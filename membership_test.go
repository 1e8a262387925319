package raftpipe

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/logstore"
)

// addHost starts one more host, known to every other, running the
// cluster's groups with an empty membership: it waits for a leader to
// add it.
func (c *cluster) addHost() int {
	c.t.Helper()
	i := len(c.hosts)
	cfg := Config{NodeID: uint64(i + 1), DataDir: c.t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: testLogger(), Peers: map[uint64]string{}}
	cfg.WAL.SegmentBytes = 4 << 20
	for j, o := range c.hosts {
		if o != nil {
			cfg.Peers[o.NodeID()] = c.cfgs[j].ListenAddr
		}
	}
	h, err := newHost(cfg, hostOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { h.Stop() })
	cfg.ListenAddr = h.Addr().String()
	for _, o := range c.hosts {
		if o != nil {
			if err := o.SetPeer(h.NodeID(), cfg.ListenAddr); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	c.cfgs = append(c.cfgs, cfg)
	c.opts = append(c.opts, hostOptions{})
	c.hosts = append(c.hosts, h)
	c.sms = append(c.sms, map[uint64]*fsm.MemKV{})
	for g := uint64(1); g <= uint64(c.groups); g++ {
		sm := fsm.NewMemKV()
		c.sms[i][g] = sm
		if err := h.StartGroup(c.t.Context(), g, Membership{}, sm); err != nil {
			c.t.Fatal(err)
		}
	}
	return i
}

// onLeader runs op on group's leader, again on the next one while it is
// refused as not leader or busy.
func (c *cluster) onLeader(group uint64, op func(h *Host) error) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := op(c.hosts[c.leader(group)])
		if err == nil {
			return
		}
		if !retryable(err) || time.Now().After(deadline) {
			c.t.Fatal(err)
		}
		<-time.After(5 * time.Millisecond)
	}
}

// A fourth host joins as a learner and catches up without voting, is
// promoted, takes the leadership by transfer, and an original member is
// removed; writes go on through every step.
func TestMembershipChangesAndTransfer(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.put(1, "a", "1")
	n4 := c.addHost()
	id4 := c.hosts[n4].NodeID()
	c.onLeader(1, func(h *Host) error { return h.AddLearner(t.Context(), 1, id4) })
	c.waitValue(n4, 1, "a", "1")
	if _, err := c.get(n4, 1, "a", Linearizable); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("linearizable read on a learner: %v, want ErrNotLeader", err)
	}
	c.put(1, "b", "2")
	c.waitValue(n4, 1, "b", "2")

	c.onLeader(1, func(h *Host) error { return h.PromoteLearner(t.Context(), 1, id4) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.onLeader(1, func(h *Host) error { return h.TransferLeader(t.Context(), 1, id4) })
		if waitFor(func() bool { st, _ := c.hosts[n4].Status(1); return st.Role == Leader }, 2*time.Second) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leadership never moved to the promoted host")
		}
	}
	c.put(1, "c", "3")

	// Remove an original member; the three left still commit.
	removed := 0
	c.onLeader(1, func(h *Host) error { return h.RemoveMember(t.Context(), 1, c.hosts[removed].NodeID()) })
	c.stop(removed)
	c.put(1, "d", "4")
	for i := 1; i < len(c.hosts); i++ {
		c.waitValue(i, 1, "d", "4")
	}
	// Membership operations are the leader's: elsewhere they are refused
	// with the leader named.
	ld := c.leader(1)
	for i, h := range c.hosts {
		if h == nil || i == ld {
			continue
		}
		err := h.AddLearner(t.Context(), 1, 9)
		var nl *NotLeaderError
		if !errors.As(err, &nl) {
			t.Fatalf("membership change on follower %d: %v, want a not-leader error", i+1, err)
		}
	}
}

// StopGroup fails the group's waiting callers, then leaves its state
// machine alone; the group starts again from its log.
func TestStopGroupRestart(t *testing.T) {
	c := newCluster(t, 1, 2, nil)
	c.put(1, "a", "1")
	c.put(2, "a", "1")
	h := c.hosts[0]
	if err := h.StopGroup(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Propose(t.Context(), 1, fsm.EncodePut(nil, []byte("a"), []byte("2"))); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("propose to a stopped group: %v", err)
	}
	c.put(2, "b", "2") // the other group goes on
	sm := fsm.NewMemKV()
	if err := h.StartGroup(t.Context(), 1, c.members(), sm); err != nil {
		t.Fatal(err)
	}
	if err := h.StartGroup(t.Context(), 1, c.members(), sm); !errors.Is(err, ErrGroupExists) {
		t.Fatalf("starting a running group: %v", err)
	}
	c.sms[0][1] = sm
	c.waitValue(0, 1, "a", "1") // replayed from the log
	c.put(1, "a", "3")
	if v := c.readLeader(1, "a"); v != "3" {
		t.Fatalf("read after restart: %q", v)
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(cond func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		<-time.After(2 * time.Millisecond)
	}
	return cond()
}

// A state machine that has applied less than the log's snapshot covers is
// refused at start, never started behind a gap it could not fill.
func TestStartGroupRefusesStateBehindLog(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	for i := range 10 {
		c.put(1, "k", fmt.Sprint(i))
	}
	c.stop(0)
	st, err := logstore.Open(logstore.Options{Dir: c.cfgs[0].DataDir + "/wal", SegmentBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var b logstore.Batch
	b.Compact(1, 8, c.members())
	if err := st.Write(&b); err != nil {
		t.Fatal(err)
	}
	st.Close()
	h, err := newHost(c.cfgs[0], c.opts[0])
	if err != nil {
		t.Fatal(err)
	}
	c.hosts[0] = h
	err = h.StartGroup(t.Context(), 1, c.members(), fsm.NewMemKV())
	if !errors.Is(err, ErrStateBehindLog) || !strings.Contains(err.Error(), "applied up to 0") || !strings.Contains(err.Error(), "snapshot at 8") {
		t.Fatalf("start with a state machine behind the log: %v, want ErrStateBehindLog naming 0 and 8", err)
	}
}
