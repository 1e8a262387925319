package stages

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore"
	"github.com/raftpipe/raftpipe/logstore/vfs"
	"github.com/raftpipe/raftpipe/ringbuf"
)

// ackLog records acknowledgements as a worker would receive them.
type ackLog struct {
	mu    sync.Mutex
	acks  map[int][]PersistAck
	count int
	cond  *sync.Cond
}

func newAckLog() *ackLog {
	a := &ackLog{acks: map[int][]PersistAck{}}
	a.cond = sync.NewCond(&a.mu)
	return a
}

func (a *ackLog) ack(w int, acks []PersistAck) {
	a.mu.Lock()
	a.acks[w] = append(a.acks[w], acks...) // copied: the stage reuses acks
	a.count += len(acks)
	a.mu.Unlock()
	a.cond.Broadcast()
}

func (a *ackLog) waitCount(t *testing.T, n int) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		a.mu.Lock()
		for a.count < n {
			a.cond.Wait()
		}
		a.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %d acknowledgements", n)
	}
}

func (a *ackLog) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count
}

func openMemStore(t *testing.T) (*logstore.Store, *vfs.MemFS) {
	t.Helper()
	st, fs, err := logstore.OpenInMemory(nil, logstore.Options{Dir: "wal", SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, fs
}

func startFsync(t *testing.T, st *logstore.Store, a *ackLog) (*FsyncStage, chan error) {
	t.Helper()
	s, err := NewFsyncStage(st, FsyncConfig{Capacity: 1024, WriteBytesMax: 1 << 20, Wait: ringbuf.Blocking}, a.ack)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return s, done
}

func entry(term, index uint64) consensus.Entry {
	return consensus.Entry{Term: term, Index: index, Data: []byte{byte(index)}}
}

// Requests of many groups from two workers are written and acknowledged
// to the worker that owns each group, in sequence order per group, and
// what is acknowledged reads back from the store.
func TestFsyncStageWritesThenAcknowledges(t *testing.T) {
	st, _ := openMemStore(t)
	a := newAckLog()
	s, _ := startFsync(t, st, a)
	const groups, rounds = 10, 10
	for r := uint64(1); r <= rounds; r++ {
		for g := uint64(1); g <= groups; g++ {
			req := PersistRequest{Group: g, Worker: int(g % 2), Seq: r, Entries: []consensus.Entry{entry(1, r)},
				HardState: consensus.HardState{Term: 1, Vote: 1, Commit: r - 1}}
			if err := s.Submit(t.Context(), req); err != nil {
				t.Fatal(err)
			}
		}
	}
	a.waitCount(t, groups*rounds)
	for w, acks := range a.acks {
		next := map[uint64]uint64{}
		for _, ack := range acks {
			if int(ack.Group%2) != w {
				t.Fatalf("worker %d got the ack of group %d", w, ack.Group)
			}
			if ack.Seq != next[ack.Group]+1 {
				t.Fatalf("group %d acked seq %d after %d", ack.Group, ack.Seq, next[ack.Group])
			}
			next[ack.Group] = ack.Seq
		}
	}
	for g := uint64(1); g <= groups; g++ {
		gs := st.Storage(g)
		last, _ := gs.LastIndex()
		hs, _ := gs.InitialState()
		if last != rounds || hs.Commit != rounds-1 {
			t.Fatalf("group %d: last index %d, hard state %+v", g, last, hs)
		}
	}
	if got := s.Stats().Items; got != groups*rounds {
		t.Fatalf("stats count %d items", got)
	}
}

// blockSyncs makes every fdatasync wait until release is closed, telling
// entered each time one starts.
func blockSyncs(fs *vfs.MemFS) (entered chan struct{}, release chan struct{}) {
	entered, release = make(chan struct{}, 100), make(chan struct{})
	fs.SetInjector(func(op vfs.Op, _ string) error {
		if op == vfs.OpSync {
			entered <- struct{}{}
			<-release
		}
		return nil
	})
	return entered, release
}

// Nothing is acknowledged before its sync returns, and requests that
// arrive during a sync share the next one: group commit.
func TestFsyncStageAcknowledgesOnlyAfterSyncAndGroupsCommits(t *testing.T) {
	st, fs := openMemStore(t)
	a := newAckLog()
	s, _ := startFsync(t, st, a)
	entered, release := blockSyncs(fs)
	if err := s.Submit(t.Context(), PersistRequest{Group: 1, Seq: 1, Entries: []consensus.Entry{entry(1, 1)}}); err != nil {
		t.Fatal(err)
	}
	<-entered // the write is in the kernel's hands, the sync under way
	const more = 50
	for g := uint64(2); g < 2+more; g++ {
		if err := s.Submit(t.Context(), PersistRequest{Group: g, Seq: 1, Entries: []consensus.Entry{entry(1, 1)}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.total(); n != 0 {
		t.Fatalf("%d acknowledgements before the sync returned", n)
	}
	close(release)
	a.waitCount(t, 1+more)
	if b := s.Stats().Batches; b > 3 {
		t.Fatalf("%d requests took %d syncs; those waiting should share one", 1+more, b)
	}
}

// A failed sync stops the stage with the store's error and acknowledges
// nothing of that write.
func TestFsyncStageFailureStopsWithoutAck(t *testing.T) {
	st, fs := openMemStore(t)
	a := newAckLog()
	s, done := startFsync(t, st, a)
	fs.SetInjector(vfs.FailNth(vfs.OpSync, 1, nil))
	if err := s.Submit(t.Context(), PersistRequest{Group: 1, Seq: 1, Entries: []consensus.Entry{entry(1, 1)}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, logstore.ErrFailed) {
			t.Fatalf("Run returned %v, want the store's ErrFailed", err)
		}
		done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("the stage kept running after a failed sync")
	}
	if n := a.total(); n != 0 {
		t.Fatalf("%d acknowledgements of a write whose sync failed", n)
	}
}

// A hard state that only moves the commit index is acknowledged without a
// sync of its own; it reaches the disk with the next write, or the final
// one at Close.
func TestFsyncStageDefersCommitOnlyHardState(t *testing.T) {
	st, _ := openMemStore(t)
	a := newAckLog()
	s, err := NewFsyncStage(st, FsyncConfig{Capacity: 64, WriteBytesMax: 1 << 20, Wait: ringbuf.Blocking}, a.ack)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	submit := func(seq uint64, ents []consensus.Entry, commit uint64) {
		t.Helper()
		req := PersistRequest{Group: 1, Seq: seq, Entries: ents, HardState: consensus.HardState{Term: 1, Vote: 1, Commit: commit}}
		if err := s.Submit(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		a.waitCount(t, int(seq))
	}
	commit := func() uint64 {
		hs, _ := st.Storage(1).InitialState()
		return hs.Commit
	}
	submit(1, []consensus.Entry{entry(1, 1)}, 0)
	syncs := st.Stats().Syncs
	submit(2, nil, 1) // commit-only: acknowledged, not synced
	if st.Stats().Syncs != syncs || commit() != 0 {
		t.Fatalf("a commit-only hard state was synced on its own (syncs %d -> %d, commit %d)", syncs, st.Stats().Syncs, commit())
	}
	submit(3, []consensus.Entry{entry(1, 2)}, 1) // rides with the next entries
	if commit() != 1 {
		t.Fatalf("commit %d after the next write, want 1", commit())
	}
	submit(4, nil, 2)
	s.Close()
	if err := <-done; !errors.Is(err, ringbuf.ErrClosed) {
		t.Fatal(err)
	}
	if commit() != 2 {
		t.Fatalf("commit %d after Close, want the deferred 2", commit())
	}
}

// A stopped group's notice makes the stage forget the group's hard state,
// so that groups coming and going (region splits) do not grow its memory;
// the group's writes before the notice are still acknowledged, and its
// hard state written again when it comes back.
func TestFsyncStageForgetsStoppedGroups(t *testing.T) {
	st, _ := openMemStore(t)
	a := newAckLog()
	s, _ := startFsync(t, st, a)
	const groups = 50
	for g := uint64(1); g <= groups; g++ {
		req := PersistRequest{Group: g, Seq: 1, Entries: []consensus.Entry{entry(1, 1)}, HardState: consensus.HardState{Term: 1, Vote: 1}}
		if err := s.Submit(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	var forgotten []chan struct{}
	for g := uint64(1); g <= groups; g++ {
		f := make(chan struct{})
		forgotten = append(forgotten, f)
		if err := s.Submit(t.Context(), PersistRequest{Group: g, Forgotten: f}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range forgotten {
		<-f
	}
	a.waitCount(t, groups)
	// The stage is idle: the channels closed after its last change.
	if n := len(s.lastHS); n != 0 {
		t.Fatalf("the stage still remembers the hard state of %d stopped groups", n)
	}
	// Back, group 1 writes a new term; the log has it.
	req := PersistRequest{Group: 1, Seq: 2, HardState: consensus.HardState{Term: 2, Vote: 2}}
	if err := s.Submit(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	a.waitCount(t, groups+1)
	if hs, _ := st.Storage(1).InitialState(); hs.Term != 2 || hs.Vote != 2 {
		t.Fatalf("group 1's hard state after its return: %+v", hs)
	}
}
