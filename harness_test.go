package raftpipe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/fsm"
)

// cluster is hosts on loopback TCP with real log directories, each running
// groups 1..groups with every host a voter and a MemKV state machine.
type cluster struct {
	t      *testing.T
	groups int
	cfgs   []Config
	opts   []hostOptions
	hosts  []*Host // nil while a host is down
	sms    []map[uint64]*fsm.MemKV
	// wrap, if set, is the state machine each MemKV is started as.
	wrap func(*fsm.MemKV) fsm.StateMachine
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// newCluster starts n hosts; tune, if not nil, adjusts each host's config
// and options before it starts. The hosts stop when the test ends.
func newCluster(t *testing.T, n, groups int, tune func(i int, cfg *Config, o *hostOptions), wrap ...func(*fsm.MemKV) fsm.StateMachine) *cluster {
	t.Helper()
	c := &cluster{t: t, groups: groups, cfgs: make([]Config, n), opts: make([]hostOptions, n),
		hosts: make([]*Host, n), sms: make([]map[uint64]*fsm.MemKV, n)}
	if len(wrap) > 0 {
		c.wrap = wrap[0]
	}
	for i := range n {
		c.cfgs[i] = Config{NodeID: uint64(i + 1), DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: testLogger()}
		c.cfgs[i].WAL.SegmentBytes = 4 << 20
		if tune != nil {
			tune(i, &c.cfgs[i], &c.opts[i])
		}
		h, err := newHost(c.cfgs[i], c.opts[i])
		if err != nil {
			t.Fatalf("host %d: %v", i+1, err)
		}
		c.hosts[i] = h
		c.cfgs[i].ListenAddr = h.Addr().String() // a restart listens where peers dial
	}
	for i, h := range c.hosts {
		c.cfgs[i].Peers = map[uint64]string{}
		for j, o := range c.hosts {
			if i != j {
				c.cfgs[i].Peers[o.NodeID()] = o.Addr().String()
				if err := h.SetPeer(o.NodeID(), o.Addr().String()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for i := range c.hosts {
		c.startGroups(i)
	}
	t.Cleanup(func() {
		for i, h := range c.hosts {
			if h != nil {
				if err := h.Stop(); err != nil {
					t.Errorf("host %d stopped with %v", i+1, err)
				}
			}
		}
	})
	return c
}

func (c *cluster) members() Membership {
	var m Membership
	for i := range c.cfgs {
		m.Voters = append(m.Voters, uint64(i+1))
	}
	return m
}

func (c *cluster) startGroups(i int) {
	c.t.Helper()
	c.sms[i] = map[uint64]*fsm.MemKV{}
	for g := uint64(1); g <= uint64(c.groups); g++ {
		sm := fsm.NewMemKV()
		c.sms[i][g] = sm
		var machine fsm.StateMachine = sm
		if c.wrap != nil {
			machine = c.wrap(sm)
		}
		if err := c.hosts[i].StartGroup(c.t.Context(), g, c.members(), machine); err != nil {
			c.t.Fatalf("host %d group %d: %v", i+1, g, err)
		}
	}
}

// stop stops host i: its log keeps what it synced, which is everything it
// acknowledged.
func (c *cluster) stop(i int) {
	c.t.Helper()
	if err := c.hosts[i].Stop(); err != nil {
		c.t.Fatalf("host %d: %v", i+1, err)
	}
	c.hosts[i] = nil
}

// restart starts host i again on its log, with fresh state machines that
// the log replays into.
func (c *cluster) restart(i int) {
	c.t.Helper()
	h, err := newHost(c.cfgs[i], c.opts[i])
	if err != nil {
		c.t.Fatalf("restart host %d: %v", i+1, err)
	}
	c.hosts[i] = h
	for j, o := range c.hosts {
		if j != i && o != nil { // peers that cut it off know it again
			if err := o.SetPeer(h.NodeID(), c.cfgs[i].ListenAddr); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	c.startGroups(i)
}

// leader waits until a running host leads group and returns its index.
func (c *cluster) leader(group uint64) int {
	c.t.Helper()
	i, ok := c.findLeader(group, time.Now().Add(20*time.Second))
	if !ok {
		c.t.Fatalf("no leader for group %d", group)
	}
	return i
}

func (c *cluster) findLeader(group uint64, deadline time.Time) (int, bool) {
	for time.Now().Before(deadline) {
		for i, h := range c.hosts {
			if h == nil {
				continue
			}
			if st, err := h.Status(group); err == nil && st.Role == Leader {
				return i, true
			}
		}
		<-time.After(2 * time.Millisecond)
	}
	return -1, false
}

// put writes key=value in group through its leader; see tryPut.
func (c *cluster) put(group uint64, key, value string) {
	c.t.Helper()
	if err := c.tryPut(group, key, value); err != nil {
		c.t.Fatal(err)
	}
}

// tryPut writes key=value in group through its leader, following
// leadership as it moves, for up to 20 s. A write is retried only when
// refused, never after a timeout, whose outcome is unknown.
func (c *cluster) tryPut(group uint64, key, value string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		i, ok := c.findLeader(group, deadline)
		if !ok {
			return fmt.Errorf("group %d put %s: no leader", group, key)
		}
		ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
		res, err := c.hosts[i].Propose(ctx, group, fsm.EncodePut(nil, []byte(key), []byte(value)))
		cancel()
		if err == nil {
			if len(res) != 1 || res[0] != fsm.StatusOK {
				return fmt.Errorf("group %d put %s: result %v", group, key, res)
			}
			return nil
		}
		if !retryable(err) || time.Now().After(deadline) {
			return fmt.Errorf("group %d put %s on host %d: %w", group, key, i+1, err)
		}
	}
}

// retryable reports whether a refused request may be sent again: it was
// refused before it entered the log, or lost its place in it.
func retryable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrProposalDropped) || errors.Is(err, ErrBusy)
}

// get reads key in group with mode on host i.
func (c *cluster) get(i int, group uint64, key string, mode ReadMode) (string, error) {
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	v, err := c.hosts[i].Read(ctx, group, []byte(key), mode)
	return string(v), err
}

// readLeader reads key linearizably through group's leader, following
// leadership as it moves.
func (c *cluster) readLeader(group uint64, key string) string {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		i := c.leader(group)
		v, err := c.get(i, group, key, Linearizable)
		if err == nil || errors.Is(err, fsm.ErrNotFound) {
			return v
		}
		if !retryable(err) || time.Now().After(deadline) {
			c.t.Fatalf("group %d read %s on host %d: %v", group, key, i+1, err)
		}
	}
}

// waitValue waits until host i's state machine of group holds key=want.
func (c *cluster) waitValue(i int, group uint64, key, want string) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := c.sms[i][group].Lookup([]byte(key))
		if err == nil && string(v) == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("host %d group %d: %s=%q (%v), want %q", i+1, group, key, v, err, want)
		}
		<-time.After(2 * time.Millisecond)
	}
}

// partition cuts host i off from every other host, both ways; heal undoes
// it.
func (c *cluster) partition(i int) {
	for j, h := range c.hosts {
		if j != i && h != nil {
			h.tr.RemovePeer(c.hosts[i].NodeID())
			c.hosts[i].tr.RemovePeer(h.NodeID())
		}
	}
}

func (c *cluster) heal(i int) {
	c.t.Helper()
	for j, h := range c.hosts {
		if j != i && h != nil {
			if err := h.SetPeer(c.hosts[i].NodeID(), c.cfgs[i].ListenAddr); err != nil {
				c.t.Fatal(err)
			}
			if err := c.hosts[i].SetPeer(h.NodeID(), c.cfgs[j].ListenAddr); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

// putMany writes n keys into every group from as many goroutines as
// groups and returns the keys written, all acknowledged.
func (c *cluster) putMany(prefix string, n int) map[uint64][]string {
	var mu sync.Mutex
	written := map[uint64][]string{}
	var wg sync.WaitGroup
	for g := uint64(1); g <= uint64(c.groups); g++ {
		wg.Go(func() {
			for k := range n {
				key := fmt.Sprintf("%s-%d", prefix, k)
				if err := c.tryPut(g, key, key); err != nil {
					c.t.Error(err)
					return
				}
				mu.Lock()
				written[g] = append(written[g], key)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return written
}
