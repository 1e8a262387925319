package stages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/logstore"
	"github.com/raftpipe/raftpipe/ringbuf"
	"github.com/raftpipe/raftpipe/transport"
)

// durableKV is a MemKV that claims its applied state durable, as an
// on-disk machine would after Sync.
type durableKV struct {
	*fsm.MemKV
	syncs atomic.Int32
}

func (d *durableKV) Sync() error { d.syncs.Add(1); return nil }

type nowhere struct{}

func (nowhere) Send([]transport.Msg) {}

// A group whose machine takes snapshots and keeps its state durable gets a
// snapshot every Entries applied, written whole into its folder with its
// manifest and metadata, and its log compacted to the newest snapshot at
// least TailEntries behind; older snapshots are removed. The group goes
// on serving.
func TestSnapshotPolicyCompactsTheLog(t *testing.T) {
	st, _, err := logstore.OpenInMemory(nil, logstore.Options{Dir: "wal", SegmentBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	e, err := NewEngine(EngineConfig{
		NodeID: 1, Workers: 1, WorkerCapacity: 256, ReplicateCapacity: 256, FsyncCapacity: 256, ApplyCapacity: 256,
		Batch: BatchConfig{Capacity: 256, EntriesMax: 64, BytesMax: 1 << 20}, FsyncWriteBytes: 1 << 20,
		Wait: ringbuf.Blocking, Consensus: consensus.DefaultConfig(), Store: st, Sender: nowhere{}, Logger: testLog(),
		TickInterval: 10 * time.Millisecond,
		Snapshot:     SnapshotConfig{Dir: dir, Entries: 50, TailEntries: 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	defer e.Stop()
	stopTicks := make(chan struct{})
	defer close(stopTicks)
	go func() {
		for {
			select {
			case <-stopTicks:
				return
			case <-time.After(10 * time.Millisecond):
				e.Tick()
			}
		}
	}()
	sm := &durableKV{MemKV: fsm.NewMemKV()}
	if err := e.StartGroup(t.Context(), 1, consensus.Membership{Voters: []uint64{1}}, sm); err != nil {
		t.Fatal(err)
	}
	put := func(i int) {
		t.Helper()
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			_, err := e.Propose(ctx, 1, fsm.EncodePut(nil, []byte("k"), []byte(strconv.Itoa(i))))
			cancel()
			if err == nil {
				return
			}
			if !errors.Is(err, ErrNotLeader) {
				t.Fatal(err)
			}
			<-time.After(5 * time.Millisecond)
		}
	}
	// Snapshots follow the applied entries: a capture due while the last
	// snapshot is still being written waits for the next entry. So write
	// on until the log has been compacted past 200.
	groupDir := filepath.Join(dir, "1")
	deadline := time.Now().Add(20 * time.Second)
	n := 0
	for ; st.GroupStats(1).First < 200; n++ {
		if time.Now().After(deadline) || n > 5000 {
			t.Fatalf("the log still starts at %d after %d entries with a snapshot every 50", st.GroupStats(1).First, n)
		}
		put(n)
	}
	// Older snapshots are removed once the compaction is durable: wait
	// for the folder to catch up with the log.
	var compactedTo uint64
	var indexes []uint64
	for {
		compactedTo = st.GroupStats(1).First - 1
		if indexes, err = snapshotIndexes(groupDir); err != nil {
			t.Fatal(err)
		}
		if len(indexes) > 0 && indexes[0] == compactedTo {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshots %v, log compacted to %d: the oldest kept snapshot must be the one the log starts after", indexes, compactedTo)
		}
		<-time.After(5 * time.Millisecond)
	}
	newest := indexes[len(indexes)-1]
	if compactedTo+20 > newest {
		t.Fatalf("compacted to %d, within the 20-entry tail of the newest snapshot %d", compactedTo, newest)
	}
	for _, f := range []string{snapshotManifestFile, snapshotMetaFile, "memkv.snap"} {
		if _, err := os.Stat(filepath.Join(groupDir, strconv.FormatUint(newest, 10), f)); err != nil {
			t.Fatalf("snapshot %d: %v", newest, err)
		}
	}
	snap, _ := st.Storage(1).Snapshot()
	if snap.Index != compactedTo || len(snap.Membership.Voters) != 1 {
		t.Fatalf("the log's snapshot %+v, want index %d with the group's membership", snap, compactedTo)
	}
	if sm.syncs.Load() == 0 {
		t.Fatal("the log was compacted without syncing the machine first")
	}
	put(n)
	if v, _ := sm.Lookup([]byte("k")); string(v) != strconv.Itoa(n) {
		t.Fatalf("k = %q after compaction", v)
	}

	// A membership change reaches the metadata of the snapshots after it
	// (the apply stage follows it; the log is not scanned again).
	if err := e.ChangeMembership(t.Context(), 1, consensus.MembershipChange{Type: consensus.AddLearner, Node: 2}); err != nil {
		t.Fatal(err)
	}
	changedAt := sm.Applied()
	for ; ; n++ {
		snap, _ := st.Storage(1).Snapshot()
		if snap.Index > changedAt {
			if !slices.Equal(snap.Membership.Learners, []uint64{2}) {
				t.Fatalf("the log's snapshot at %d, after learner 2 joined at %d, has membership %+v", snap.Index, changedAt, snap.Membership)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log was never compacted past the membership change at %d", changedAt)
		}
		put(n)
	}
}

// Either trigger captures a snapshot: Entries counts entries applied,
// Bytes their commands' bytes, and both restart from zero at a capture.
func TestSnapshotTriggers(t *testing.T) {
	cmd := make([]byte, 100)
	for _, tc := range []struct {
		name           string
		cfg            SnapshotConfig
		perDrain       int // entries applied per drain, each of 100 bytes
		wantFirstDrain int // the drain (from 1) that captures first
	}{
		{"entries", SnapshotConfig{Entries: 10}, 3, 4},
		{"bytes", SnapshotConfig{Bytes: 1000}, 3, 4},
		{"bytes first", SnapshotConfig{Entries: 100, Bytes: 500}, 2, 3},
		{"entries first", SnapshotConfig{Entries: 4, Bytes: 1 << 20}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSnapshotStage(&Engine{log: testLog()}, tc.cfg)
			sm := fsm.NewMemKV()
			ents := make([]fsm.Entry, tc.perDrain)
			for i := range ents {
				ents[i] = fsm.Entry{Index: uint64(i + 1), Cmd: cmd}
			}
			var captures []int
			for drain := 1; drain <= 3*tc.wantFirstDrain; drain++ {
				s.applied(7, sm, nil, ents)
				select {
				case j := <-s.jobs:
					captures = append(captures, drain)
					j.src.Close()
					s.done(j.group)
				default:
				}
			}
			want := []int{tc.wantFirstDrain, 2 * tc.wantFirstDrain, 3 * tc.wantFirstDrain}
			if !slices.Equal(captures, want) {
				t.Fatalf("captured after drains %v, want %v", captures, want)
			}
		})
	}
}

// Engine.Snapshot takes a snapshot at once, whatever the triggers say,
// and answers with its index once it is written; with no policy it is
// refused.
func TestSnapshotOnRequest(t *testing.T) {
	st, _, err := logstore.OpenInMemory(nil, logstore.Options{Dir: "wal", SegmentBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	newEngine := func(policy SnapshotConfig) *Engine {
		e, err := NewEngine(EngineConfig{
			NodeID: 1, Workers: 1, WorkerCapacity: 256, ReplicateCapacity: 256, FsyncCapacity: 256, ApplyCapacity: 256,
			Batch: BatchConfig{Capacity: 256, EntriesMax: 64, BytesMax: 1 << 20}, FsyncWriteBytes: 1 << 20,
			Wait: ringbuf.Blocking, Consensus: consensus.DefaultConfig(), Store: st, Sender: nowhere{}, Logger: testLog(),
			TickInterval: 10 * time.Millisecond, Snapshot: policy,
		})
		if err != nil {
			t.Fatal(err)
		}
		e.Start()
		return e
	}
	e := newEngine(SnapshotConfig{Dir: dir, Entries: 1 << 40})
	defer e.Stop()
	sm := &durableKV{MemKV: fsm.NewMemKV()}
	if err := e.StartGroup(t.Context(), 1, consensus.Membership{Voters: []uint64{1}}, sm); err != nil {
		t.Fatal(err)
	}
	for {
		e.Tick()
		if _, err := e.Propose(t.Context(), 1, fsm.EncodePut(nil, []byte("k"), []byte("v"))); err == nil {
			break
		} else if !errors.Is(err, ErrNotLeader) {
			t.Fatal(err)
		}
		<-time.After(10 * time.Millisecond)
	}
	index, err := e.Snapshot(t.Context(), 1)
	if err != nil || index < sm.Applied() || index == 0 {
		t.Fatalf("Snapshot: %d, %v (applied %d)", index, err, sm.Applied())
	}
	if _, err := os.Stat(filepath.Join(dir, "1", strconv.FormatUint(index, 10), snapshotManifestFile)); err != nil {
		t.Fatalf("the snapshot it named is not there: %v", err)
	}
	if _, err := e.Snapshot(t.Context(), 99); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("a snapshot of an unknown group: %v", err)
	}
	off := newEngine(SnapshotConfig{})
	defer off.Stop()
	if _, err := off.Snapshot(t.Context(), 1); !errors.Is(err, ErrNoSnapshots) {
		t.Fatalf("a snapshot with the policy off: %v", err)
	}
}
