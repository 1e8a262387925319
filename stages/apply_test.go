package stages

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/ringbuf"
)

// gatedStore is a shared store whose Commit waits for its gate.
type gatedStore struct {
	entered chan struct{}
	gate    chan struct{}
	commits atomic.Int32
}

func (g *gatedStore) Commit() error {
	if g.commits.Add(1) == 1 {
		close(g.entered)
	}
	<-g.gate
	return nil
}

// sharedMachine is a MemKV that writes through a gatedStore.
type sharedMachine struct {
	*fsm.MemKV
	store *gatedStore
}

func (m sharedMachine) Store() fsm.Committer { return m.store }

// The state machines of several groups that share a store get one Commit
// for a drain, after all of their Updates, and no caller is completed
// before that Commit returns.
func TestApplyStageCommitsSharedStoreOncePerDrain(t *testing.T) {
	s, err := NewApplyStage(16, ringbuf.Blocking)
	if err != nil {
		t.Fatal(err)
	}
	store := &gatedStore{entered: make(chan struct{}), gate: make(chan struct{})}
	var tasks []ApplyTask
	var dones []*Completion
	var acked atomic.Int32
	for g := uint64(1); g <= 3; g++ {
		d := NewCompletion()
		dones = append(dones, d)
		tasks = append(tasks, ApplyTask{
			Group:   g,
			SM:      sharedMachine{fsm.NewMemKV(), store},
			Entries: []consensus.Entry{{Index: 1, Term: 1, Data: fsm.EncodePut(nil, []byte("k"), []byte("v"))}},
			Dones:   []*Completion{d},
			Applied: func(uint64, uint64) { acked.Add(1) },
		})
	}
	if err := s.Submit(t.Context(), tasks); err != nil { // one publish: one drain
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case <-store.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the store was never committed")
	}
	for i, d := range dones {
		select {
		case o := <-d.ch:
			t.Fatalf("group %d's caller completed (%v) before the commit returned", i+1, o)
		default:
		}
	}
	if acked.Load() != 0 {
		t.Fatal("a worker was told of an apply before the commit returned")
	}
	close(store.gate)
	for i, d := range dones {
		o, err := d.Wait(t.Context())
		if err != nil || o.Err != nil || len(o.Result) == 0 || o.Result[0] != fsm.StatusOK {
			t.Fatalf("group %d: %+v %v", i+1, o, err)
		}
	}
	s.Close()
	<-done
	if n := store.commits.Load(); n != 1 {
		t.Fatalf("%d commits for one drain of three groups, want 1", n)
	}
}
