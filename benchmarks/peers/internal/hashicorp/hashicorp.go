// Package hashicorp runs the peer workload on hashicorp/raft v1.7.3: three
// nodes in one process, one Raft group (the library runs one group per
// Raft instance and the workload does not shard over several), the TCP
// NetworkTransport on loopback, raft-wal as LogStore and StableStore (it
// fsyncs every StoreLogs batch), a FileSnapshotStore, and an in-memory FSM.
package hashicorp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	walmetrics "github.com/hashicorp/raft-wal/metrics"

	"github.com/raftpipe/raftpipe/benchmarks/peers/internal/workload"
)

const (
	// Replicas in the group.
	Replicas = 3

	// applyTimeout bounds the enqueueing of one Apply (hashicorp/raft's
	// timeout covers only getting the command to the leader loop); opTimeout
	// bounds one write with its retries.
	applyTimeout = 5 * time.Second
	opTimeout    = 15 * time.Second
	retryPause   = time.Millisecond

	// NetworkTransport settings as in the library's documentation: a pool
	// of 3 connections per peer, 10 s I/O deadline.
	maxPool          = 3
	transportTimeout = 10 * time.Second
)

// Cluster is a running three-node hashicorp/raft group.
type Cluster struct {
	nodes   []*raft.Raft
	fsms    []*fsm
	logs    []*wal.WAL
	metrics []*walmetrics.AtomicCollector
	trans   []*raft.NetworkTransport
	leader  atomic.Int32 // index of the last leader seen
}

var _ workload.System = (*Cluster)(nil)

// Start starts three nodes under dir (dir/n1, dir/n2, dir/n3, each with its
// wal and snapshots), bootstraps them as one cluster and waits for a leader.
// groups must be 1.
func Start(dir string, groups int) (*Cluster, error) {
	if groups != 1 {
		return nil, fmt.Errorf("hashicorp/raft runs one group, not %d", groups)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: os.Stderr})
	c := &Cluster{}
	for i := range Replicas {
		t, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, maxPool, transportTimeout,
			logger.Named(fmt.Sprintf("n%d", i+1)))
		if err != nil {
			c.Close()
			return nil, err
		}
		c.trans = append(c.trans, t)
	}
	var servers []raft.Server
	for i, t := range c.trans {
		servers = append(servers, raft.Server{ID: serverID(i), Address: t.LocalAddr()})
	}
	for i, t := range c.trans {
		nodeDir := filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		walDir := filepath.Join(nodeDir, "wal")
		if err := os.MkdirAll(walDir, 0o755); err != nil {
			c.Close()
			return nil, err
		}
		// raft-wal at its defaults (64 MiB preallocated segments, fsync on
		// every StoreLogs, BoltDB for the stable store's few keys), with its
		// own atomic counters read by SyncStats.
		m := walmetrics.NewAtomicCollector(wal.MetricDefinitions)
		w, err := wal.Open(walDir, wal.WithMetricsCollector(m), wal.WithLogger(logger.Named(fmt.Sprintf("n%d.wal", i+1))))
		if err != nil {
			c.Close()
			return nil, err
		}
		c.logs = append(c.logs, w)
		c.metrics = append(c.metrics, m)
		snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(nodeDir, "snapshots"), 2, logger)
		if err != nil {
			c.Close()
			return nil, err
		}
		conf := raft.DefaultConfig()
		conf.LocalID = serverID(i)
		conf.Logger = logger.Named(fmt.Sprintf("n%d", i+1))
		// Everything else at the library's defaults: MaxAppendEntries 64
		// (the leader's group commit and the replication batch), heartbeat
		// and election timeouts of 1 s, CommitTimeout 50 ms, a snapshot
		// check every 120 s or more, so none within a run.
		if err := raft.BootstrapCluster(conf, w, w, snaps, t, raft.Configuration{Servers: servers}); err != nil {
			c.Close()
			return nil, fmt.Errorf("bootstrap n%d: %w", i+1, err)
		}
		f := &fsm{}
		r, err := raft.NewRaft(conf, f, w, w, snaps, t)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("n%d: %w", i+1, err)
		}
		c.nodes = append(c.nodes, r)
		c.fsms = append(c.fsms, f)
	}
	if err := c.waitLeader(30 * time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func serverID(i int) raft.ServerID { return raft.ServerID(fmt.Sprintf("n%d", i+1)) }

func (c *Cluster) waitLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if i, ok := c.leaderIndex(); ok {
			c.leader.Store(int32(i))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no leader after %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leaderIndex returns the node that is leader, looking first at the last
// leader seen.
func (c *Cluster) leaderIndex() (int, bool) {
	last := int(c.leader.Load())
	for k := range c.nodes {
		i := (last + k) % len(c.nodes)
		if c.nodes[i].State() == raft.Leader {
			return i, true
		}
	}
	return 0, false
}

// Propose implements workload.System: Apply on the leader and wait for its
// result (committed and applied to the leader's FSM), again on a leadership
// change or an enqueue timeout.
func (c *Cluster) Propose(g int, payload []byte) (int, error) {
	return workload.Retry(opTimeout, retryPause, func() (bool, error) {
		i, ok := c.leaderIndex()
		if !ok {
			return false, workload.ErrNoLeader
		}
		c.leader.Store(int32(i))
		err := c.nodes[i].Apply(payload, applyTimeout).Error()
		return errors.Is(err, raft.ErrRaftShutdown), err
	})
}

// SyncStats implements workload.System from raft-wal's own metrics, summed
// over the three nodes: log_entries_written, and log_appends, the StoreLogs
// calls, each of which ends in one fsync of the segment file. The
// StableStore's writes (term and vote, rare) are not counted.
func (c *Cluster) SyncStats() (entries, syncs uint64, ok bool) {
	for _, m := range c.metrics {
		s := m.Summary()
		entries += s.Counters["log_entries_written"]
		syncs += s.Counters["log_appends"]
	}
	return entries, syncs, true
}

// Applied returns the entries each node's FSM has applied, as one group:
// [0][node].
func (c *Cluster) Applied() [][]uint64 {
	out := make([]uint64, len(c.fsms))
	for i, f := range c.fsms {
		out[i] = f.entries.Load()
	}
	return [][]uint64{out}
}

// Close shuts the nodes down and closes their stores and transports.
func (c *Cluster) Close() error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, r := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Shutdown().Error(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, t := range c.trans {
		if err := t.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, w := range c.logs {
		if err := w.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.nodes, c.trans, c.logs = nil, nil, nil
	return errors.Join(errs...)
}

// fsm is the in-memory state machine: it applies every command by counting
// it and its bytes, and returns the count.
type fsm struct {
	entries atomic.Uint64
	bytes   atomic.Uint64
}

func (f *fsm) Apply(l *raft.Log) any {
	f.bytes.Add(uint64(len(l.Data)))
	return f.entries.Add(1)
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return snapshot{f.entries.Load(), f.bytes.Load()}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [16]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.entries.Store(binary.LittleEndian.Uint64(b[:8]))
	f.bytes.Store(binary.LittleEndian.Uint64(b[8:]))
	return nil
}

type snapshot struct{ entries, bytes uint64 }

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], s.entries)
	binary.LittleEndian.PutUint64(b[8:], s.bytes)
	if _, err := sink.Write(b[:]); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (snapshot) Release() {}
