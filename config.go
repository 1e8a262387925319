package raftpipe

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore"
	"github.com/raftpipe/raftpipe/ringbuf"
	"github.com/raftpipe/raftpipe/stages"
	"github.com/raftpipe/raftpipe/transport"
)

// Config is a host's configuration. Zero fields take the defaults of
// DefaultConfig, except NodeID, DataDir and ListenAddr, which have none.
// Units are in the names.
type Config struct {
	// NodeID names this host in every group it runs; never 0.
	NodeID uint64
	// ClusterID is checked in every peer handshake; 1 if 0.
	ClusterID uint64
	// DataDir holds the write-ahead log (DataDir/wal) and incoming
	// snapshot streams (DataDir/snapshots).
	DataDir string
	// ListenAddr is where peers connect (host:port; port 0 picks one, and
	// Host.Addr tells which).
	ListenAddr string
	// Peers maps the other hosts' node IDs to their addresses; SetPeer
	// changes them later.
	Peers map[uint64]string

	// TickInterval is the period of the Raft clock: elections, heartbeats
	// and leases are counted in ticks of it.
	TickInterval time.Duration
	// Raft is every group's consensus template. Its ID, Storage, Members,
	// Applied and Seed are the host's to set and must be left zero.
	Raft consensus.Config

	// Workers is the number of step workers groups are sharded over.
	Workers int
	// ProposeQueue is the propose ring, in proposals; WorkerQueue,
	// ReplicateQueue, FsyncQueue and ApplyQueue are the other stages'
	// rings, in submissions. All are powers of two. Together with
	// Raft.UncommittedBytesMax they bound what a saturated host holds:
	// see the package doc.
	ProposeQueue   int
	WorkerQueue    int
	ReplicateQueue int
	FsyncQueue     int
	ApplyQueue     int
	// BatchEntriesMax and BatchBytesMax cut a group's proposals into
	// batches; BatchWait, off (0) by default, holds the batch stage back
	// that long after each drain so the next one is larger: throughput
	// for latency, for deployments that want only the first.
	BatchEntriesMax int
	BatchBytesMax   int
	BatchWait       time.Duration
	// SnapshotEntries takes a snapshot of a group each time this many
	// entries have been applied since the last, and SnapshotLogBytes each
	// time this many bytes of commands have, whichever comes first, for a
	// state machine that can (fsm.Snapshotter). The log is then compacted
	// to the newest snapshot at least SnapshotTailEntries behind (a
	// machine on disk is synced first, one in memory restarts from that
	// snapshot), and a follower behind the log's start is sent a snapshot.
	// NoSnapshots turns the policy off: the log then grows for ever.
	SnapshotEntries     uint64
	SnapshotLogBytes    uint64
	SnapshotTailEntries uint64
	NoSnapshots         bool
	// FsyncWriteBytesMax cuts one drain of the fsync stage into several
	// log writes; it must not exceed WAL.WriteBytesMax.
	FsyncWriteBytesMax int
	// DiskStallTimeout fails the host with ErrDiskStall once a write to
	// its log (the write and its fdatasync) has taken this long: a leader
	// on a hung disk would otherwise keep heartbeating, and its group
	// would wait on it for ever; failed, it stops, and the others elect a
	// leader. 0 takes the default, 20 s (CockroachDB's for the same
	// check); a negative value turns the check off. At least the election
	// timeout (Raft.ElectionTicks × TickInterval).
	DiskStallTimeout time.Duration
	// WaitStrategy is how every stage waits for work; the zero value,
	// ringbuf.SpinThenPark, spins about as long as a park costs, then
	// parks.
	WaitStrategy ringbuf.WaitStrategy

	// Transport tunes the peer transport; its identity, addresses,
	// handler and snapshot folder come from the fields above.
	Transport transport.Config
	// WAL tunes the write-ahead log; its Dir comes from DataDir.
	WAL logstore.Options

	Logger *slog.Logger
}

// DefaultConfig returns the defaults: 10 ms ticks, elections after 20 to
// 40 ticks, a heartbeat every 2, a lease drift margin of 3; 2 step
// workers; rings of 4096 proposals and 1024 submissions; batches of 1024
// proposals or 1 MiB; fsync writes cut at 16 MiB.
func DefaultConfig() Config {
	rc := consensus.DefaultConfig()
	rc.ElectionTicks = 20
	rc.HeartbeatTicks = 2
	rc.LeaseDriftTicks = 3
	return Config{
		ClusterID:          1,
		TickInterval:       10 * time.Millisecond,
		Raft:               rc,
		Workers:            2,
		ProposeQueue:       4096,
		WorkerQueue:        1024,
		ReplicateQueue:     1024,
		FsyncQueue:         1024,
		ApplyQueue:         1024,
		BatchEntriesMax:    1024,
		BatchBytesMax:      1 << 20,
		FsyncWriteBytesMax: 16 << 20,
		DiskStallTimeout:   20 * time.Second,
		// etcd's defaults for its snapshot count and catch-up entries; the
		// byte trigger bounds the log when commands are large.
		SnapshotEntries:     100_000,
		SnapshotLogBytes:    256 << 20,
		SnapshotTailEntries: 5_000,
	}
}

// ErrInvalidConfig matches every error of Config.Validate.
var ErrInvalidConfig = errors.New("raftpipe: invalid config")

// withDefaults returns c with its zero fields set from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	if c.ClusterID == 0 {
		c.ClusterID = d.ClusterID
	}
	if c.TickInterval == 0 {
		c.TickInterval = d.TickInterval
	}
	setInt(&c.Raft.ElectionTicks, d.Raft.ElectionTicks)
	setInt(&c.Raft.HeartbeatTicks, d.Raft.HeartbeatTicks)
	if c.Raft.LeaseDriftTicks == 0 {
		// Unset, the margin follows the election timeout, so that raising
		// ElectionTicks alone keeps a valid config.
		c.Raft.LeaseDriftTicks = max(d.Raft.LeaseDriftTicks, leaseDriftMin(c.Raft.ElectionTicks))
	}
	setInt(&c.Workers, d.Workers)
	setInt(&c.ProposeQueue, d.ProposeQueue)
	setInt(&c.WorkerQueue, d.WorkerQueue)
	setInt(&c.ReplicateQueue, d.ReplicateQueue)
	setInt(&c.FsyncQueue, d.FsyncQueue)
	setInt(&c.ApplyQueue, d.ApplyQueue)
	setInt(&c.BatchEntriesMax, d.BatchEntriesMax)
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = d.SnapshotEntries
	}
	if c.SnapshotLogBytes == 0 {
		c.SnapshotLogBytes = d.SnapshotLogBytes
	}
	if c.SnapshotTailEntries == 0 {
		c.SnapshotTailEntries = d.SnapshotTailEntries
	}
	setInt(&c.BatchBytesMax, d.BatchBytesMax)
	setInt(&c.FsyncWriteBytesMax, d.FsyncWriteBytesMax)
	if c.DiskStallTimeout == 0 {
		c.DiskStallTimeout = d.DiskStallTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	rc := consensus.DefaultConfig()
	if c.Raft.InflightMsgsMax == 0 {
		c.Raft.InflightMsgsMax = rc.InflightMsgsMax
	}
	if c.Raft.InflightBytesMax == 0 {
		c.Raft.InflightBytesMax = rc.InflightBytesMax
	}
	if c.Raft.MsgBytesMax == 0 {
		c.Raft.MsgBytesMax = rc.MsgBytesMax
	}
	if c.Raft.MsgEntriesMax == 0 {
		c.Raft.MsgEntriesMax = rc.MsgEntriesMax
	}
	if c.Raft.UncommittedBytesMax == 0 {
		c.Raft.UncommittedBytesMax = rc.UncommittedBytesMax
	}
	if c.Raft.ApplyBytesMax == 0 {
		c.Raft.ApplyBytesMax = rc.ApplyBytesMax
	}
	c.Transport.ClusterID, c.Transport.NodeID = c.ClusterID, c.NodeID
	c.Transport.ListenAddr, c.Transport.Peers = c.ListenAddr, c.Peers
	if c.Transport.SnapshotDir == "" && c.DataDir != "" {
		c.Transport.SnapshotDir = filepath.Join(c.DataDir, "snapshots")
	}
	if c.Transport.Logger == nil {
		c.Transport.Logger = c.Logger
	}
	if c.WAL.Dir == "" && c.DataDir != "" {
		c.WAL.Dir = filepath.Join(c.DataDir, "wal")
	}
	if c.WAL.Logger == nil {
		c.WAL.Logger = c.Logger
	}
	set64 := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	set64(&c.WAL.SegmentBytes, logstore.DefaultSegmentBytes)
	set64(&c.WAL.WriteBytesMax, logstore.DefaultWriteBytesMax)
	set64(&c.WAL.RecordBytesTarget, logstore.DefaultRecordBytesTarget)
	set64(&c.WAL.GroupCacheBytesMax, logstore.DefaultGroupCacheBytesMax)
	set64(&c.WAL.PurgeThresholdBytes, logstore.DefaultPurgeThresholdBytes)
	return c
}

// Validate reports the first setting that cannot work, naming it and
// why, as an error matching ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	pow2 := func(n int) bool { return n > 0 && n&(n-1) == 0 }
	rc := c.Raft
	switch {
	case c.NodeID == 0:
		return bad("NodeID must not be 0")
	case c.DataDir == "":
		return bad("DataDir is empty")
	case c.ListenAddr == "":
		return bad("ListenAddr is empty")
	case c.TickInterval < time.Millisecond:
		return bad("TickInterval %s is below 1ms", c.TickInterval)
	case rc.ID != 0 || rc.Storage != nil || len(rc.Members.Voters) > 0 || len(rc.Members.Learners) > 0 || rc.Applied != 0 || rc.Seed != 0:
		return bad("Raft.ID, Storage, Members, Applied and Seed are set per group by the host and must be zero")
	case rc.ElectionTicks > 1000:
		return bad("Raft.ElectionTicks %d exceeds 1000: use a longer TickInterval", rc.ElectionTicks)
	case rc.LeaseDriftTicks < leaseDriftMin(rc.ElectionTicks):
		// See Host's doc on leases: ticks are stamped on handling, and a
		// late tick is dropped rather than bunched, so a follower's
		// election timeout lasts at least (ElectionTicks-1)×0.9 ticks.
		return bad("Raft.LeaseDriftTicks %d is below %d, the least that keeps a lease of Raft.ElectionTicks %d safe", rc.LeaseDriftTicks, leaseDriftMin(rc.ElectionTicks), rc.ElectionTicks)
	case c.Workers < 1 || c.Workers > 1024:
		return bad("Workers %d is not in [1, 1024]", c.Workers)
	case !pow2(c.ProposeQueue):
		return bad("ProposeQueue %d is not a positive power of two", c.ProposeQueue)
	case !pow2(c.WorkerQueue):
		return bad("WorkerQueue %d is not a positive power of two", c.WorkerQueue)
	case !pow2(c.ReplicateQueue):
		return bad("ReplicateQueue %d is not a positive power of two", c.ReplicateQueue)
	case !pow2(c.FsyncQueue):
		return bad("FsyncQueue %d is not a positive power of two", c.FsyncQueue)
	case !pow2(c.ApplyQueue):
		return bad("ApplyQueue %d is not a positive power of two", c.ApplyQueue)
	case c.BatchEntriesMax < 1:
		return bad("BatchEntriesMax %d must be positive", c.BatchEntriesMax)
	case c.BatchBytesMax < 1:
		return bad("BatchBytesMax %d must be positive", c.BatchBytesMax)
	case uint64(c.BatchBytesMax) > rc.UncommittedBytesMax:
		return bad("BatchBytesMax %d exceeds Raft.UncommittedBytesMax %d: a full batch could never be accepted", c.BatchBytesMax, rc.UncommittedBytesMax)
	case c.BatchWait < 0 || c.BatchWait > time.Second:
		return bad("BatchWait %s is not in [0, 1s]", c.BatchWait)
	case c.FsyncWriteBytesMax < 1:
		return bad("FsyncWriteBytesMax %d must be positive", c.FsyncWriteBytesMax)
	case c.DiskStallTimeout > 0 && c.DiskStallTimeout < time.Duration(rc.ElectionTicks)*c.TickInterval:
		return bad("DiskStallTimeout %s is below the election timeout %s (Raft.ElectionTicks × TickInterval): an ordinary slow sync would stop the host", c.DiskStallTimeout, time.Duration(rc.ElectionTicks)*c.TickInterval)
	}
	probe := rc
	probe.ID, probe.Storage = c.NodeID, consensus.NewMemoryStorage()
	if err := probe.Validate(); err != nil {
		return fmt.Errorf("%w: Raft: %w", ErrInvalidConfig, err)
	}
	tc := c.Transport
	tc.Handler = &hostHandler{} // the host's own, set when it starts
	if err := tc.Validate(); err != nil {
		return fmt.Errorf("%w: Transport: %w", ErrInvalidConfig, err)
	}
	wal := c.WAL
	if err := wal.Validate(); err != nil {
		return fmt.Errorf("%w: WAL: %w", ErrInvalidConfig, err)
	}
	frame := c.Transport.MaxFrameBytes
	if frame == 0 {
		frame = transport.DefaultConfig().MaxFrameBytes
	}
	walWrite := c.WAL.WriteBytesMax
	switch {
	case rc.MsgBytesMax >= uint64(frame)/2:
		// An append of MsgBytesMax, with its entries' framing, must fit a
		// frame, or the transport drops it and replication stalls.
		return bad("Raft.MsgBytesMax %d must be below half of Transport.MaxFrameBytes %d", rc.MsgBytesMax, frame)
	case int64(c.FsyncWriteBytesMax) > walWrite:
		return bad("FsyncWriteBytesMax %d exceeds WAL.WriteBytesMax %d", c.FsyncWriteBytesMax, walWrite)
	case int64(c.BatchBytesMax) > walWrite/2:
		return bad("BatchBytesMax %d exceeds half of WAL.WriteBytesMax %d", c.BatchBytesMax, walWrite)
	}
	return nil
}

// leaseDriftMin is the smallest drift margin that keeps a lease of
// electionTicks within a follower's shortest election timeout.
func leaseDriftMin(electionTicks int) int { return 1 + (electionTicks+9)/10 }

// engineConfig is the stages' share of c.
func (c Config) engineConfig(store *logstore.Store, sender stages.Sender, clock stages.Clock) stages.EngineConfig {
	return stages.EngineConfig{
		NodeID:            c.NodeID,
		Workers:           c.Workers,
		WorkerCapacity:    c.WorkerQueue,
		ReplicateCapacity: c.ReplicateQueue,
		FsyncCapacity:     c.FsyncQueue,
		ApplyCapacity:     c.ApplyQueue,
		Batch: stages.BatchConfig{
			Capacity: c.ProposeQueue, EntriesMax: c.BatchEntriesMax, BytesMax: c.BatchBytesMax,
			MaxWait: c.BatchWait, Wait: c.WaitStrategy,
		},
		FsyncWriteBytes: c.FsyncWriteBytesMax,
		Wait:            c.WaitStrategy,
		Consensus:       c.Raft,
		Store:           store,
		Sender:          sender,
		Logger:          c.Logger,
		TickInterval:    c.TickInterval,
		Clock:           clock,
		Snapshot:        c.snapshotPolicy(),
		// A negative DiskStallTimeout (off) is 0 to the engine.
		DiskStallTimeout: max(c.DiskStallTimeout, 0),
	}
}

func (c Config) snapshotPolicy() stages.SnapshotConfig {
	if c.NoSnapshots {
		return stages.SnapshotConfig{}
	}
	return stages.SnapshotConfig{
		Dir:     filepath.Join(c.DataDir, "state-snapshots"),
		Entries: c.SnapshotEntries, Bytes: c.SnapshotLogBytes, TailEntries: c.SnapshotTailEntries,
	}
}
