package raftpipe

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A config that cannot work is refused before anything starts, with an
// error that names the field at fault.
func TestConfigValidateNamesTheField(t *testing.T) {
	good := Config{NodeID: 1, DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0"}
	if err := good.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	cases := []struct {
		name  string
		tweak func(*Config)
		want  string
	}{
		{"no node", func(c *Config) { c.NodeID = 0 }, "NodeID"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "DataDir"},
		{"no listen address", func(c *Config) { c.ListenAddr = "" }, "ListenAddr"},
		{"tick too short", func(c *Config) { c.TickInterval = time.Microsecond }, "TickInterval"},
		{"host-owned raft field", func(c *Config) { c.Raft.ID = 7 }, "Raft.ID"},
		{"lease margin too thin", func(c *Config) { c.Raft.ElectionTicks, c.Raft.LeaseDriftTicks = 30, 2 }, "Raft.LeaseDriftTicks"},
		{"election not above heartbeat", func(c *Config) { c.Raft.ElectionTicks, c.Raft.HeartbeatTicks, c.Raft.LeaseDriftTicks = 4, 4, 2 }, "election_ticks"},
		{"ring not a power of two", func(c *Config) { c.ProposeQueue = 1000 }, "ProposeQueue"},
		{"worker ring", func(c *Config) { c.WorkerQueue = 3 }, "WorkerQueue"},
		{"workers", func(c *Config) { c.Workers = -1 }, "Workers"},
		{"batch above uncommitted", func(c *Config) { c.BatchBytesMax = 2 << 20; c.Raft.UncommittedBytesMax = 1 << 20 }, "BatchBytesMax"},
		{"batch wait", func(c *Config) { c.BatchWait = time.Hour }, "BatchWait"},
		{"disk stall below an election", func(c *Config) { c.DiskStallTimeout = 100 * time.Millisecond }, "DiskStallTimeout"},
		{"append above frame", func(c *Config) { c.Raft.MsgBytesMax = 48 << 20; c.Raft.InflightBytesMax = 64 << 20 }, "Raft.MsgBytesMax"},
		{"fsync write above WAL write", func(c *Config) { c.FsyncWriteBytesMax = 128 << 20 }, "FsyncWriteBytesMax"},
		{"transport", func(c *Config) { c.Transport.SendQueueMessages = 7 }, "send_queue_messages"},
		{"wal", func(c *Config) { c.WAL.SegmentBytes = 1 }, "SegmentBytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.tweak(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ErrInvalidConfig naming %s", err, tc.want)
			}
			if _, err := NewHost(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewHost: %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// Snapshots are on unless turned off: a zero Config takes the default
// triggers, and NoSnapshots leaves the engine without a policy.
func TestConfigSnapshotPolicy(t *testing.T) {
	c := Config{NodeID: 1, DataDir: "d", ListenAddr: "127.0.0.1:0"}.withDefaults()
	p := c.snapshotPolicy()
	d := DefaultConfig()
	if p.Entries != d.SnapshotEntries || p.Bytes != d.SnapshotLogBytes || p.TailEntries != d.SnapshotTailEntries || p.Dir == "" {
		t.Fatalf("default policy %+v", p)
	}
	c.NoSnapshots = true
	if p := c.snapshotPolicy(); p.Entries != 0 || p.Bytes != 0 {
		t.Fatalf("NoSnapshots gave policy %+v", p)
	}
}

// Raising the election timeout alone keeps a valid config: an unset lease
// drift margin follows it.
func TestConfigLeaseDriftFollowsElectionTicks(t *testing.T) {
	c := Config{NodeID: 1, DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0"}
	c.Raft.ElectionTicks = 40
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.withDefaults().Raft.LeaseDriftTicks; got != leaseDriftMin(40) {
		t.Fatalf("drift %d, want %d", got, leaseDriftMin(40))
	}
}
