// Package dragonboat runs the peer workload on Dragonboat v3.3.8: three
// NodeHosts in one process on loopback TCP, G Raft groups ("clusters" in
// Dragonboat's words) of three replicas each, one replica per NodeHost, an
// in-memory state machine per replica. Dragonboat's default LogDB (sharded
// Pebble, every write batch committed with Sync: true) is kept as it is.
package dragonboat

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	dragonboat3 "github.com/lni/dragonboat/v3"
	"github.com/lni/dragonboat/v3/client"
	"github.com/lni/dragonboat/v3/config"
	"github.com/lni/dragonboat/v3/logger"
	sm "github.com/lni/dragonboat/v3/statemachine"

	"github.com/raftpipe/raftpipe/benchmarks/peers/internal/workload"
)

const (
	// Replicas per group, one on each NodeHost.
	Replicas = 3

	// rttMillisecond is Dragonboat's logical clock tick. Every NodeHost is on
	// loopback, where a round trip is tens of microseconds, so any tick is
	// far above the real RTT; 2 ms rather than 1 halves the cost of ticking
	// every replica on a 2-core machine while keeping elections and
	// heartbeats fast. The tick drives only timeouts: proposals, replication
	// and commits are not paced by it.
	rttMillisecond = 2
	// heartbeatRTT and electionRTT are in ticks: a heartbeat every 20 ms, an
	// election timeout of 200 ms, ten heartbeats, as Dragonboat advises, and
	// wide enough that fsync stalls on a loaded 2-core machine do not start
	// elections.
	heartbeatRTT = 10
	electionRTT  = 100

	// proposeTimeout bounds one SyncPropose attempt; opTimeout bounds one
	// write with its retries.
	proposeTimeout = 5 * time.Second
	opTimeout      = 15 * time.Second
	retryPause     = time.Millisecond
)

var quietOnce sync.Once

// quiet sends only warnings and worse of Dragonboat's loggers (to stderr,
// where capnslog writes).
func quiet() {
	quietOnce.Do(func() {
		for _, name := range []string{"dragonboat", "raft", "raft-mt", "raftpb", "rsm", "transport",
			"logdb", "LogDB", "pebblekv", "rocksdb", "config", "settings", "server", "tools", "grpc"} {
			logger.GetLogger(name).SetLevel(logger.WARNING)
		}
	})
}

// Cluster is a running Dragonboat system: the NodeHosts and, per group,
// the state machines of its replicas.
type Cluster struct {
	hosts    []*dragonboat3.NodeHost // Replicas of them; replica r of every group is on hosts[r], node ID r+1
	sessions [][]*client.Session     // [group][host] NO-OP sessions
	sms      [][]*counter            // [group][replica]
	leader   []atomic.Int32          // [group] host index of the last leader seen
}

var _ workload.System = (*Cluster)(nil)

// Start starts three NodeHosts under dir (dir/nh1, dir/nh2, dir/nh3, each
// with its data and wal subfolders) and groups Raft groups on them, and
// waits until every group has a leader.
func Start(dir string, groups int) (*Cluster, error) {
	quiet()
	addrs, err := freeAddrs(Replicas)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		sessions: make([][]*client.Session, groups),
		sms:      make([][]*counter, groups),
		leader:   make([]atomic.Int32, groups),
	}
	members := map[uint64]dragonboat3.Target{}
	for r, a := range addrs {
		members[uint64(r+1)] = a
	}
	for r, a := range addrs {
		hostDir := filepath.Join(dir, fmt.Sprintf("nh%d", r+1))
		nh, err := dragonboat3.NewNodeHost(config.NodeHostConfig{
			NodeHostDir:    filepath.Join(hostDir, "data"),
			WALDir:         filepath.Join(hostDir, "wal"),
			RTTMillisecond: rttMillisecond,
			RaftAddress:    a,
			// Everything else at its default: the default LogDB (sharded
			// Pebble, synced writes), the default TCP transport, the
			// default engine.
		})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("NodeHost %d: %w", r+1, err)
		}
		c.hosts = append(c.hosts, nh)
	}
	for g := range groups {
		c.sms[g] = make([]*counter, Replicas)
		c.sessions[g] = make([]*client.Session, Replicas)
		for r, nh := range c.hosts {
			create := func(clusterID, nodeID uint64) sm.IStateMachine {
				sm := &counter{}
				c.sms[g][r] = sm
				return sm
			}
			err := nh.StartCluster(members, false, create, config.Config{
				NodeID:       uint64(r + 1),
				ClusterID:    clusterID(g),
				ElectionRTT:  electionRTT,
				HeartbeatRTT: heartbeatRTT,
				CheckQuorum:  true,
				// No snapshots during a run: the state machine is two
				// counters and a run lasts seconds. (hashicorp/raft's
				// defaults take none within two minutes either.)
				SnapshotEntries: 0,
			})
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("group %d on NodeHost %d: %w", g, r+1, err)
			}
			c.sessions[g][r] = nh.GetNoOPSession(clusterID(g))
		}
	}
	if err := c.waitLeaders(30 * time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func clusterID(g int) uint64 { return uint64(g + 1) }

// waitLeaders waits until every group has a leader that a proposal reaches.
func (c *Cluster) waitLeaders(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for g := range c.sms {
		for {
			if h, ok := c.leaderOf(g); ok {
				c.leader[g].Store(int32(h))
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("group %d has no leader after %v", g, timeout)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// leaderOf asks the NodeHosts, starting with the last leader seen, who leads
// group g, and returns the leader's host index.
func (c *Cluster) leaderOf(g int) (int, bool) {
	last := int(c.leader[g].Load())
	for i := range c.hosts {
		h := (last + i) % len(c.hosts)
		id, valid, err := c.hosts[h].GetLeaderID(clusterID(g))
		if err == nil && valid && id >= 1 && id <= uint64(len(c.hosts)) {
			return int(id - 1), true
		}
	}
	return 0, false
}

// Propose implements workload.System: SyncPropose with a NO-OP session on
// the NodeHost of the group's current leader, again on a leadership change,
// a busy system, a dropped proposal or a timeout.
func (c *Cluster) Propose(g int, payload []byte) (int, error) {
	return workload.Retry(opTimeout, retryPause, func() (bool, error) {
		h, ok := c.leaderOf(g)
		if !ok {
			return false, workload.ErrNoLeader
		}
		c.leader[g].Store(int32(h))
		ctx, cancel := context.WithTimeout(context.Background(), proposeTimeout)
		_, err := c.hosts[h].SyncPropose(ctx, c.sessions[g][h], payload)
		cancel()
		final := errors.Is(err, dragonboat3.ErrClosed) || errors.Is(err, dragonboat3.ErrClusterClosed) ||
			errors.Is(err, dragonboat3.ErrPayloadTooBig) || errors.Is(err, dragonboat3.ErrInvalidSession)
		return final, err
	})
}

// SyncStats implements workload.System. Dragonboat v3.3.8 exposes no count
// of its LogDB's writes or syncs: the LogDB is internal, its metrics count
// none, and the only hook into its file system (NodeHostConfig.Expert.FS,
// which must then be goutils' test ErrorFS) hides the files' descriptors
// from Pebble, turning the WAL's fdatasync into fsync and dropping its
// preallocation, that is changing what is measured. So: not available.
func (c *Cluster) SyncStats() (uint64, uint64, bool) { return 0, 0, false }

// Applied returns the entries each replica of each group has applied,
// [group][replica].
func (c *Cluster) Applied() [][]uint64 {
	out := make([][]uint64, len(c.sms))
	for g, reps := range c.sms {
		out[g] = make([]uint64, len(reps))
		for r, s := range reps {
			if s != nil {
				out[g][r] = s.entries.Load()
			}
		}
	}
	return out
}

// Close stops the NodeHosts.
func (c *Cluster) Close() error {
	var wg sync.WaitGroup
	for _, nh := range c.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nh.Stop()
		}()
	}
	wg.Wait()
	c.hosts = nil
	return nil
}

// counter is the in-memory state machine: it applies every command by
// counting it and its bytes, and returns the count.
type counter struct {
	entries atomic.Uint64
	bytes   atomic.Uint64
}

func (s *counter) Update(cmd []byte) (sm.Result, error) {
	s.bytes.Add(uint64(len(cmd)))
	return sm.Result{Value: s.entries.Add(1)}, nil
}

func (s *counter) Lookup(any) (any, error) {
	return [2]uint64{s.entries.Load(), s.bytes.Load()}, nil
}

func (s *counter) SaveSnapshot(w io.Writer, _ sm.ISnapshotFileCollection, _ <-chan struct{}) error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], s.entries.Load())
	binary.LittleEndian.PutUint64(b[8:], s.bytes.Load())
	_, err := w.Write(b[:])
	return err
}

func (s *counter) RecoverFromSnapshot(r io.Reader, _ []sm.SnapshotFile, _ <-chan struct{}) error {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	s.entries.Store(binary.LittleEndian.Uint64(b[:8]))
	s.bytes.Store(binary.LittleEndian.Uint64(b[8:]))
	return nil
}

func (s *counter) Close() error { return nil }

// freeAddrs returns n loopback addresses with ports free at the time of the
// call (Dragonboat binds its RaftAddress itself).
func freeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}
