package kv

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe"
)

var verboseHosts = flag.Bool("kv.verbose", false, "log the test clusters' hosts at info level to stderr")

// pebbleCluster is hosts on loopback, each with its own log and Pebble
// store, running group 1 with a snapshot policy: hosts 1-3 are its voters,
// a fourth may join.
type pebbleCluster struct {
	t      *testing.T
	dirs   [4]string
	addrs  [4]string
	hosts  [4]*pebbleNode
	policy func(*raftpipe.Config)
}

// pebbleNode is one host of a pebbleCluster.
type pebbleNode struct {
	h     *raftpipe.Host
	store *Store
	m     *Machine
}

// newPebbleCluster starts the three voters.
func newPebbleCluster(t *testing.T, policy func(*raftpipe.Config)) *pebbleCluster {
	c := &pebbleCluster{t: t, policy: policy}
	for i := range c.dirs {
		c.dirs[i] = t.TempDir()
		c.addrs[i] = "127.0.0.1:0"
	}
	for i := range 3 {
		c.start(i)
	}
	for i := range 3 {
		c.startGroup(i)
	}
	t.Cleanup(func() {
		for i, h := range c.hosts {
			if h != nil {
				c.stop(i)
			}
		}
	})
	return c
}

func (c *pebbleCluster) start(i int) {
	c.t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	hostLog := quiet
	if *verboseHosts {
		hostLog = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("host", i+1)
	}
	cfg := raftpipe.Config{NodeID: uint64(i + 1), DataDir: c.dirs[i], ListenAddr: c.addrs[i], Logger: hostLog, Peers: map[uint64]string{}}
	cfg.WAL.SegmentBytes = 4 << 20
	c.policy(&cfg)
	for j, a := range c.addrs {
		if j != i && a != "" {
			cfg.Peers[uint64(j+1)] = a
		}
	}
	h, err := raftpipe.NewHost(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.addrs[i] = h.Addr().String()
	store, err := Open(Options{Dir: filepath.Join(c.dirs[i], "kv"), Logger: quiet})
	if err != nil {
		c.t.Fatal(err)
	}
	m, err := store.Machine(1)
	if err != nil {
		c.t.Fatal(err)
	}
	c.hosts[i] = &pebbleNode{h: h, store: store, m: m}
}

func (c *pebbleCluster) startGroup(i int) {
	c.t.Helper()
	for j, o := range c.hosts {
		if j != i && o != nil {
			o.h.SetPeer(uint64(i+1), c.addrs[i])
			c.hosts[i].h.SetPeer(uint64(j+1), c.addrs[j])
		}
	}
	members := raftpipe.Membership{Voters: []uint64{1, 2, 3}}
	if i == 3 {
		members = raftpipe.Membership{} // a newcomer waits to be added
	}
	if err := c.hosts[i].h.StartGroup(c.t.Context(), 1, members, c.hosts[i].m); err != nil {
		c.t.Fatal(err)
	}
}

func (c *pebbleCluster) stop(i int) {
	c.t.Helper()
	if err := c.hosts[i].h.Stop(); err != nil {
		c.t.Fatal(err)
	}
	if err := c.hosts[i].store.Close(); err != nil {
		c.t.Fatal(err)
	}
	c.hosts[i] = nil
}

func (c *pebbleCluster) leader() int {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, h := range c.hosts {
			if h != nil {
				if st, err := h.h.Status(1); err == nil && st.Role == raftpipe.Leader {
					return i
				}
			}
		}
		<-time.After(2 * time.Millisecond)
	}
	c.t.Fatal("no leader")
	return -1
}

func (c *pebbleCluster) put(cmd []byte) {
	c.t.Helper()
	if err := c.tryPut(c.leader(), cmd); err != nil {
		c.t.Fatal(err)
	}
}

// tryPut proposes cmd through host ld, and through whichever host leads
// after a change, until it is applied or 20 s have passed.
func (c *pebbleCluster) tryPut(ld int, cmd []byte) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
		_, err := c.hosts[ld].h.Propose(ctx, 1, cmd)
		cancel()
		if err == nil {
			return nil
		}
		if !errors.Is(err, raftpipe.ErrNotLeader) && !errors.Is(err, raftpipe.ErrProposalDropped) && !errors.Is(err, raftpipe.ErrBusy) || time.Now().After(deadline) {
			return err
		}
		<-time.After(time.Millisecond)
		for i, h := range c.hosts {
			if h != nil {
				if st, err := h.h.Status(1); err == nil && st.Role == raftpipe.Leader {
					ld = i
				}
			}
		}
	}
}

// putConcurrently writes n keys from 32 clients at once.
func (c *pebbleCluster) putConcurrently(n int) {
	c.t.Helper()
	const clients = 32
	ld := c.leader()
	errs := make(chan error, clients)
	for w := range clients {
		go func() {
			for i := w; i < n; i += clients {
				if err := c.tryPut(ld, EncodePut(nil, fmt.Appendf(nil, "k%07d", i), fmt.Appendf(nil, "v%d", i))); err != nil {
					errs <- fmt.Errorf("key %d: %w", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			c.t.Fatal(err)
		}
	}
}

// rangeHash hashes every key and value of the group on host i, as of its
// applied index.
func (c *pebbleCluster) rangeHash(i int) ([32]byte, int) {
	c.t.Helper()
	res, err := c.hosts[i].m.Lookup(EncodeScan(nil, nil, nil, 1<<30))
	if err != nil {
		c.t.Fatal(err)
	}
	pairs, _, err := DecodeScanResult(res)
	if err != nil {
		c.t.Fatal(err)
	}
	h := sha256.New()
	for _, p := range pairs {
		h.Write(appendKey(appendKey(nil, p.Key), p.Value))
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, len(pairs)
}

var followerWrites = flag.Int("kv.follower-writes", 5000, "writes TestFollowerCatchesUpBySSTSnapshot makes while a follower is down (200000 for the issue's proof)")

// A follower stopped while the others take -kv.follower-writes writes and
// compact their logs catches up through an SST snapshot (its Pebble span
// replaced by ingest), and its range then hashes like the leader's.
func TestFollowerCatchesUpBySSTSnapshot(t *testing.T) {
	writes := *followerWrites
	every := uint64(max(writes/20, 1000))
	c := newPebbleCluster(t, func(cfg *raftpipe.Config) { cfg.SnapshotEntries, cfg.SnapshotTailEntries = every, every/10 })
	c.put(EncodePut(nil, []byte("first"), []byte("1")))
	down := (c.leader() + 1) % 3
	c.stop(down)
	start := time.Now()
	c.putConcurrently(writes)
	t.Logf("%d writes in %s while host %d was down", writes, time.Since(start).Round(time.Millisecond), down+1)
	c.put(EncodeDelete(nil, []byte("first")))
	c.writeUntilCompacted(c.leader(), uint64(writes)*3/5)
	c.start(down)
	start = time.Now()
	c.startGroup(down)
	ld := c.leader()
	deadline := time.Now().Add(60 * time.Second)
	var sum [32]byte
	var keys int
	for {
		// Hash only once the follower has caught up: a scan of the
		// whole range is not cheap.
		if got, want := c.hosts[down].m.Applied(), c.hosts[ld].m.Applied(); got == want {
			a, n := c.rangeHash(ld)
			if b, _ := c.rangeHash(down); a == b {
				if n < writes {
					t.Fatalf("%d keys, want %d and the extras", n, writes)
				}
				sum, keys = a, n
				break
			}
		}
		if time.Now().After(deadline) {
			_, n := c.rangeHash(ld)
			_, m := c.rangeHash(down)
			t.Fatalf("the follower's range (%d keys, applied %d) never matched the leader's (%d keys, applied %d)", m, c.hosts[down].m.Applied(), n, c.hosts[ld].m.Applied())
		}
		<-time.After(10 * time.Millisecond)
	}
	items := c.hosts[down].h.Stats().Stages.Apply.Items
	if items >= uint64(writes) {
		t.Fatalf("the follower applied %d entries after its restart: the log was replayed, not the snapshot loaded", items)
	}
	t.Logf("the follower caught up in %s, applying %d entries itself; range hash %x over %d keys", time.Since(start).Round(time.Millisecond), items, sum[:8], keys)
}

var learnerMiB = flag.Int("kv.learner-mib", 16, "MiB of 1 KiB values the group holds when TestLearnerCatchesUpBySnapshot adds a learner (1024 for the issue's proof)")

// A learner added to a group whose log was compacted long ago catches up
// by snapshot: its range then hashes like the leader's.
func TestLearnerCatchesUpBySnapshot(t *testing.T) {
	keys := *learnerMiB << 20 / 1024
	every := uint64(max(keys/64/6, 10)) // about six snapshots while the group fills
	c := newPebbleCluster(t, func(cfg *raftpipe.Config) { cfg.SnapshotEntries, cfg.SnapshotTailEntries = every, every/5 })
	val := make([]byte, 1000)
	for i := 0; i < keys; i += 64 { // 64 puts per entry
		var cmds [][]byte
		for j := i; j < min(i+64, keys); j++ {
			val[0], val[1] = byte(j), byte(j>>8)
			cmds = append(cmds, EncodePut(nil, fmt.Appendf(nil, "k%07d", j), val))
		}
		c.put(EncodeBatch(nil, cmds...))
	}
	c.writeUntilCompacted(c.leader(), uint64(keys/64)/2)
	c.start(3)
	c.startGroup(3)
	start := time.Now()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := c.hosts[c.leader()].h.AddLearner(t.Context(), 1, 4)
		if err == nil {
			break
		}
		if !errors.Is(err, raftpipe.ErrNotLeader) && !errors.Is(err, raftpipe.ErrBusy) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		<-time.After(5 * time.Millisecond)
	}
	var caughtUp, hashed time.Duration
	for {
		ld := c.leader()
		if c.hosts[3].m.Applied() >= c.hosts[ld].m.Applied() {
			caughtUp = time.Since(start)
			a, n := c.rangeHash(ld)
			hashed = time.Since(start) - caughtUp
			b, _ := c.rangeHash(3)
			if a != b || n < keys {
				t.Fatalf("the learner's range differs from the leader's (%d keys)", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the learner reached %d of the leader's %d", c.hosts[3].m.Applied(), c.hosts[ld].m.Applied())
		}
		<-time.After(10 * time.Millisecond)
	}
	t.Logf("a learner caught up with %d MiB in %s, applying %d entries itself (the leader's range hashed %d keys in %s)", *learnerMiB, caughtUp.Round(time.Millisecond), c.hosts[3].h.Stats().Stages.Apply.Items, keys, hashed.Round(time.Millisecond))
	// The log was compacted: the learner can only have caught up by
	// loading a snapshot, and applied just what followed it.
	if items := c.hosts[3].h.Stats().Stages.Apply.Items; items >= uint64(keys/64) {
		t.Fatalf("the learner applied %d entries, the whole group's: it replayed the log instead of loading a snapshot", items)
	}
}

// oldestSnapshot is the index of the oldest snapshot host i keeps: the one
// its log was compacted to, once the compaction is durable.
func oldestSnapshot(dir string) uint64 {
	ents, _ := os.ReadDir(filepath.Join(dir, "state-snapshots", "1"))
	var oldest uint64
	for _, e := range ents {
		if i, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && (oldest == 0 || i < oldest) {
			oldest = i
		}
	}
	return oldest
}

// writeUntilCompacted writes extra keys until host i's log was compacted
// to at least index (snapshots follow the writes, a few behind).
func (c *pebbleCluster) writeUntilCompacted(i int, index uint64) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for n := 0; oldestSnapshot(c.dirs[i]) < index; n++ {
		if time.Now().After(deadline) {
			c.t.Fatalf("host %d's log is compacted to %d, want %d", i+1, oldestSnapshot(c.dirs[i]), index)
		}
		c.put(EncodePut(nil, fmt.Appendf(nil, "extra-%d", n), nil))
	}
}
