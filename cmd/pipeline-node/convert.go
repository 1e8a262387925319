package main

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/kv"
	"github.com/raftpipe/raftpipe/logstore"
	"github.com/raftpipe/raftpipe/ringbuf"
	"github.com/raftpipe/raftpipe/transport"
)

// setFrameworkDefaults gives the tuning keys the framework's own defaults,
// so that the reference shows the values in force.
func setFrameworkDefaults(c *nodeConfig) {
	{
		h := raftpipe.DefaultConfig()
		c.Raft = raftConfig{
			TickInterval: h.TickInterval, ElectionTicks: h.Raft.ElectionTicks, HeartbeatTicks: h.Raft.HeartbeatTicks,
			InflightMsgsMax:  h.Raft.InflightMsgsMax, // LeaseDriftTicks 0: derived from ElectionTicks
			InflightBytesMax: byteSize(h.Raft.InflightBytesMax), MsgBytesMax: byteSize(h.Raft.MsgBytesMax),
			UncommittedMax: byteSize(h.Raft.UncommittedBytesMax),
		}
		c.Pipe = pipeConfig{
			Workers: h.Workers, ProposeQueue: h.ProposeQueue, WorkerQueue: h.WorkerQueue, ReplicateQueue: h.ReplicateQueue,
			FsyncQueue: h.FsyncQueue, ApplyQueue: h.ApplyQueue, BatchEntriesMax: h.BatchEntriesMax,
			BatchBytesMax: byteSize(h.BatchBytesMax), BatchWait: h.BatchWait, FsyncWriteMax: byteSize(h.FsyncWriteBytesMax),
			WaitStrategy: waitStrategyNames[h.WaitStrategy],
		}
		c.Snap = snapConfig{Entries: h.SnapshotEntries, LogBytes: byteSize(h.SnapshotLogBytes), TailEntries: h.SnapshotTailEntries}
		c.WAL = walConfig{SegmentBytes: logstore.DefaultSegmentBytes, PurgeThresholdBytes: logstore.DefaultPurgeThresholdBytes,
			StallTimeout: h.DiskStallTimeout}
		t := transport.DefaultConfig()
		c.Peer = peerConfig{MaxFrameBytes: byteSize(t.MaxFrameBytes), SendQueueMessages: t.SendQueueMessages,
			DialTimeout: t.DialTimeout, IdleTimeout: t.IdleTimeout}
		p := kv.DefaultOptions()
		c.Pebble = pebbleConfig{
			CacheBytes: byteSize(p.CacheBytes), MemTableBytes: byteSize(p.MemTableBytes),
			L0CompactionThreshold: p.L0CompactionThreshold, L0StopWritesThreshold: p.L0StopWritesThreshold,
			MaxOpenFiles: p.MaxOpenFiles, CompactionsMax: p.CompactionConcurrencyMax, SnapshotFileBytes: byteSize(p.SnapshotFileBytes),
		}
	}
}

var waitStrategyNames = map[ringbuf.WaitStrategy]string{
	ringbuf.SpinThenPark: "spin-then-park", ringbuf.Blocking: "blocking", ringbuf.Yield: "yield", ringbuf.BusySpin: "busy-spin",
}

func waitStrategyByName(name string) (ringbuf.WaitStrategy, bool) {
	for w, n := range waitStrategyNames {
		if n == name {
			return w, true
		}
	}
	return 0, false
}

// hostConfig is the framework's config for this node. peers are the other
// voters' addresses, from the identity.
func (c *nodeConfig) hostConfig(peers map[uint64]string, log *slog.Logger) raftpipe.Config {
	h := raftpipe.Config{
		NodeID: c.ID, ClusterID: c.ClusterID, DataDir: filepath.Join(c.DataDir, "raft"), ListenAddr: c.PeerListen,
		Peers: peers, TickInterval: c.Raft.TickInterval, Logger: log,
		Workers: c.Pipe.Workers, ProposeQueue: c.Pipe.ProposeQueue, WorkerQueue: c.Pipe.WorkerQueue,
		ReplicateQueue: c.Pipe.ReplicateQueue, FsyncQueue: c.Pipe.FsyncQueue, ApplyQueue: c.Pipe.ApplyQueue,
		BatchEntriesMax: c.Pipe.BatchEntriesMax, BatchBytesMax: int(c.Pipe.BatchBytesMax), BatchWait: c.Pipe.BatchWait,
		FsyncWriteBytesMax: int(c.Pipe.FsyncWriteMax),
		SnapshotEntries:    c.Snap.Entries, SnapshotLogBytes: uint64(c.Snap.LogBytes), SnapshotTailEntries: c.Snap.TailEntries,
		NoSnapshots: c.Snap.Disabled, DiskStallTimeout: c.WAL.StallTimeout,
	}
	h.WaitStrategy, _ = waitStrategyByName(c.Pipe.WaitStrategy)
	h.Raft.ElectionTicks, h.Raft.HeartbeatTicks, h.Raft.LeaseDriftTicks = c.Raft.ElectionTicks, c.Raft.HeartbeatTicks, c.Raft.LeaseDriftTicks
	h.Raft.InflightMsgsMax, h.Raft.InflightBytesMax = c.Raft.InflightMsgsMax, uint64(c.Raft.InflightBytesMax)
	h.Raft.MsgBytesMax, h.Raft.UncommittedBytesMax = uint64(c.Raft.MsgBytesMax), uint64(c.Raft.UncommittedMax)
	h.WAL.SegmentBytes, h.WAL.PurgeThresholdBytes = int64(c.WAL.SegmentBytes), int64(c.WAL.PurgeThresholdBytes)
	h.Transport.MaxFrameBytes, h.Transport.SendQueueMessages = int(c.Peer.MaxFrameBytes), c.Peer.SendQueueMessages
	h.Transport.DialTimeout, h.Transport.IdleTimeout = c.Peer.DialTimeout, c.Peer.IdleTimeout
	if c.Peer.TLSCertFile != "" {
		h.Transport.TLS = &transport.TLSFiles{CAFile: c.Peer.TLSCAFile, CertFile: c.Peer.TLSCertFile, KeyFile: c.Peer.TLSKeyFile}
	}
	return h
}

// kvOptions is the Pebble store's options for this node.
func (c *nodeConfig) kvOptions(log *slog.Logger) kv.Options {
	return kv.Options{
		Dir: filepath.Join(c.DataDir, "kv"), CacheBytes: int64(c.Pebble.CacheBytes), MemTableBytes: uint64(c.Pebble.MemTableBytes),
		L0CompactionThreshold: c.Pebble.L0CompactionThreshold, L0StopWritesThreshold: c.Pebble.L0StopWritesThreshold,
		MaxOpenFiles: c.Pebble.MaxOpenFiles, CompactionConcurrencyMax: c.Pebble.CompactionsMax,
		SnapshotFileBytes: int64(c.Pebble.SnapshotFileBytes), Logger: log,
	}
}

// frameworkNames maps the framework's field names, as its validation
// errors give them, to this config's keys, so that an error names the key
// the user wrote. Longest names first: "Raft.MsgBytesMax" before
// "MsgBytesMax".
var frameworkNames = []struct{ framework, key string }{
	{"Raft.UncommittedBytesMax", "raft.uncommitted-bytes-max"},
	{"Raft.InflightBytesMax", "raft.inflight-bytes-max"},
	{"Raft.InflightMsgsMax", "raft.inflight-msgs-max"},
	{"Raft.LeaseDriftTicks", "raft.lease-drift-ticks"},
	{"Raft.HeartbeatTicks", "raft.heartbeat-ticks"},
	{"Raft.ElectionTicks", "raft.election-ticks"},
	{"Raft.MsgBytesMax", "raft.msg-bytes-max"},
	{"Transport.MaxFrameBytes", "transport.max-frame-bytes"},
	{"Transport.SendQueueMessages", "transport.send-queue-messages"},
	{"Transport.DialTimeout", "transport.dial-timeout"},
	{"Transport.IdleTimeout", "transport.idle-timeout"},
	{"WAL.SegmentBytes", "wal.segment-bytes"},
	{"WAL.PurgeThresholdBytes", "wal.purge-threshold-bytes"},
	{"FsyncWriteBytesMax", "pipeline.fsync-write-bytes-max"},
	{"DiskStallTimeout", "wal.stall-timeout"},
	{"BatchEntriesMax", "pipeline.batch-entries-max"},
	{"BatchBytesMax", "pipeline.batch-bytes-max"},
	{"BatchWait", "pipeline.batch-wait"},
	{"ReplicateQueue", "pipeline.replicate-queue"},
	{"ProposeQueue", "pipeline.propose-queue"},
	{"WorkerQueue", "pipeline.worker-queue"},
	{"FsyncQueue", "pipeline.fsync-queue"},
	{"ApplyQueue", "pipeline.apply-queue"},
	{"TickInterval", "raft.tick-interval"},
	{"Workers", "pipeline.workers"},
	{"L0CompactionThreshold", "pebble.l0-compaction-threshold"},
	{"L0StopWritesThreshold", "pebble.l0-stop-writes-threshold"},
	{"CompactionConcurrencyMax", "pebble.compactions-max"},
	{"SnapshotFileBytes", "pebble.snapshot-file-bytes"},
	{"MemTableBytes", "pebble.memtable-bytes"},
	{"MaxOpenFiles", "pebble.max-open-files"},
	{"CacheBytes", "pebble.cache-bytes"},
	// The consensus and transport configs' errors name their fields in
	// snake_case, the WAL's without its prefix.
	{"lease_drift_ticks", "raft.lease-drift-ticks"},
	{"inflight_bytes_max", "raft.inflight-bytes-max"},
	{"inflight_msgs_max", "raft.inflight-msgs-max"},
	{"heartbeat_ticks", "raft.heartbeat-ticks"},
	{"election_ticks", "raft.election-ticks"},
	{"msg_bytes_max", "raft.msg-bytes-max"},
	{"send_queue_messages", "transport.send-queue-messages"},
	{"max_frame_bytes", "transport.max-frame-bytes"},
	{"idle_timeout", "transport.idle-timeout"},
	{"PurgeThresholdBytes", "wal.purge-threshold-bytes"},
	{"SegmentBytes", "wal.segment-bytes"},
}

// inKeys rewrites a framework validation error in this config's keys.
func inKeys(err error) error {
	msg := err.Error()
	for _, n := range frameworkNames {
		msg = strings.ReplaceAll(msg, n.framework, n.key)
	}
	return errors.New(msg)
}
