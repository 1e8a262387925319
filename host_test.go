package raftpipe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lni/goutils/leaktest"
	"github.com/raftpipe/raftpipe/fsm"
)

// Three hosts elect a leader, apply proposals with their results on every
// replica, and serve linearizable reads of them in every mode that
// promises it.
func TestHostElectProposeRead(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t)) // registered first: runs after the hosts stop
	c := newCluster(t, 3, 2, nil)
	for g := uint64(1); g <= 2; g++ {
		for k := range 20 {
			c.put(g, "k", fmt.Sprint(k))
		}
		if v := c.readLeader(g, "k"); v != "19" {
			t.Fatalf("group %d: linearizable read %q, want 19", g, v)
		}
		ld := c.leader(g)
		for _, mode := range []ReadMode{ReadIndexOnly, FollowerRead} {
			if v, err := c.get(ld, g, "k", mode); err != nil || v != "19" {
				t.Fatalf("group %d %v read on the leader: %q, %v", g, mode, v, err)
			}
		}
		for i := range c.hosts {
			if i == ld {
				continue
			}
			// A follower read on a follower sees the acknowledged write
			// even if the follower has not applied it yet: it waits.
			if v, err := c.get(i, g, "k", FollowerRead); err != nil || v != "19" {
				t.Fatalf("group %d follower read on host %d: %q, %v", g, i+1, v, err)
			}
			_, err := c.hosts[i].Propose(t.Context(), g, fsm.EncodePut(nil, []byte("k"), []byte("x")))
			var nl *NotLeaderError
			if !errors.As(err, &nl) || nl.Leader != c.hosts[ld].NodeID() {
				t.Fatalf("propose on follower %d: %v, want a not-leader error naming %d", i+1, err, ld+1)
			}
			if _, err := c.get(i, g, "k", Linearizable); !errors.Is(err, ErrNotLeader) {
				t.Fatalf("linearizable read on follower %d: %v, want ErrNotLeader", i+1, err)
			}
		}
		st, err := c.hosts[ld].Status(g)
		if err != nil || st.Role != Leader || st.Commit < 21 || st.Applied > st.Commit || st.Leader != c.hosts[ld].NodeID() {
			t.Fatalf("leader status %+v, %v", st, err)
		}
	}
	if _, err := c.hosts[0].Propose(t.Context(), 99, []byte("x")); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("propose to an unknown group: %v", err)
	}
	if _, err := c.hosts[0].Status(99); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("status of an unknown group: %v", err)
	}
}

// The leader host is killed: cut off from its peers, with every sync it
// attempts from then on failing, so neither a write in flight nor the
// commit index a clean stop would flush reaches its disk. A new leader is
// elected from the others, every acknowledged write is still there, and
// the old leader, restarted on its log, catches up with what it missed.
func TestHostLeaderKilledNoAckedWriteLost(t *testing.T) {
	fss := make([]*faultFS, 3)
	c := newCluster(t, 3, 4, func(i int, _ *Config, o *hostOptions) {
		fss[i] = newFaultFS()
		o.walFS = fss[i]
	})
	before := c.putMany("before", 25)
	ld := c.leader(1)
	c.partition(ld)
	fss[ld].failSyncs(errKilled, nil)
	c.hosts[ld].Stop() // fails: the syncs it tried failed
	c.hosts[ld] = nil
	fss[ld].release()
	after := c.putMany("after", 25)
	for g, keys := range before {
		for _, k := range append(keys, after[g]...) {
			if v := c.readLeader(g, k); v != k {
				t.Fatalf("group %d: acknowledged %s reads %q", g, k, v)
			}
		}
	}
	c.restart(ld)
	for g, keys := range after {
		for _, k := range keys {
			c.waitValue(ld, g, k, k)
		}
	}
}

// Many groups run at once on the same three hosts, sharing one log, one
// transport and one pipeline per host.
func TestHostManyGroups(t *testing.T) {
	const groups = 64
	c := newCluster(t, 3, groups, nil)
	written := c.putMany("k", 5)
	for g := uint64(1); g <= groups; g++ {
		if len(written[g]) != 5 {
			t.Fatalf("group %d: %d writes", g, len(written[g]))
		}
		for i := range c.hosts {
			c.waitValue(i, g, "k-4", "k-4")
		}
	}
}

// Stop fails every caller still waiting with ErrStopped, and later calls
// too.
func TestHostStopFailsCallers(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t))
	c := newCluster(t, 1, 1, nil)
	c.put(1, "a", "1")
	h := c.hosts[0]
	errs := make(chan error, 64)
	for range cap(errs) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := h.Propose(ctx, 1, fsm.EncodePut(nil, []byte("b"), []byte("2")))
			errs <- err
		}()
	}
	c.stop(0)
	for range cap(errs) {
		if err := <-errs; err != nil && !errors.Is(err, ErrStopped) {
			t.Fatalf("a caller of a stopping host got %v, want nil or ErrStopped", err)
		}
	}
	if _, err := h.Propose(t.Context(), 1, []byte("x")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose after stop: %v", err)
	}
	if _, err := h.Read(t.Context(), 1, []byte("a"), Stale); !errors.Is(err, ErrStopped) {
		t.Fatalf("read after stop: %v", err)
	}
}

var errKilled = errors.New("the host was killed")

// A burst proposed together is applied in its order, each command with
// its own outcome; a burst larger than the propose ring is refused whole,
// and a follower refuses it naming the leader.
func TestHostProposeBatch(t *testing.T) {
	c := newCluster(t, 3, 1, func(_ int, cfg *Config, _ *hostOptions) { cfg.ProposeQueue = 256 })
	ld := c.leader(1)
	cmds := make([][]byte, 100)
	for i := range cmds {
		cmds[i] = fsm.EncodePut(nil, []byte("k"), []byte(fmt.Sprint(i)))
	}
	cmds[50] = []byte{0xff} // a command MemKV refuses: only its own outcome fails
	outs, err := c.hosts[ld].ProposeBatch(t.Context(), 1, cmds)
	if err != nil || len(outs) != len(cmds) {
		t.Fatalf("ProposeBatch: %d outcomes, %v", len(outs), err)
	}
	for i, o := range outs {
		if got := o.Err != nil || o.Result[0] != fsm.StatusOK; got != (i == 50) {
			t.Fatalf("outcome %d: %q, %v", i, o.Result, o.Err)
		}
	}
	if v := c.readLeader(1, "k"); v != "99" {
		t.Fatalf("k = %q after the burst, want the last write, 99", v)
	}
	if _, err := c.hosts[ld].ProposeBatch(t.Context(), 1, make([][]byte, 257)); err == nil || !strings.Contains(err.Error(), "257") {
		t.Fatalf("a burst larger than the ring: %v", err)
	}
	var nl *NotLeaderError
	if _, err := c.hosts[(ld+1)%3].ProposeBatch(t.Context(), 1, cmds[:1]); !errors.As(err, &nl) || nl.Leader != c.hosts[ld].NodeID() {
		t.Fatalf("ProposeBatch on a follower: %v", err)
	}
}
