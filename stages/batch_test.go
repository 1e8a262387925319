package stages

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/ringbuf"
)

type routeLog struct {
	mu      sync.Mutex
	drains  [][]ProposalBatch
	n       int
	gate    chan struct{} // when set, the first route waits on it
	held    chan struct{} // closed when the first route starts waiting on gate
	arrived chan struct{} // told on each route
}

func (r *routeLog) route(bs []ProposalBatch) {
	if r.gate != nil {
		close(r.held)
		<-r.gate
		r.gate = nil
	}
	r.mu.Lock()
	r.drains = append(r.drains, append([]ProposalBatch(nil), bs...))
	for _, b := range bs {
		r.n += len(b.Proposals)
	}
	r.mu.Unlock()
	r.arrived <- struct{}{}
}

func startBatch(t *testing.T, cfg BatchConfig, r *routeLog) *BatchStage {
	t.Helper()
	s, err := NewBatchStage(cfg, r.route)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	t.Cleanup(func() { s.Close(); <-done })
	return s
}

func cmd(group uint64, i int, size int) []byte {
	b := bytes.Repeat([]byte{'.'}, size)
	copy(b, fmt.Sprintf("%d/%d", group, i))
	return b
}

// A burst is grouped by group, in order within each group, and cut at the
// entry and byte limits.
func TestBatchStageGroupsAndCuts(t *testing.T) {
	r := &routeLog{gate: make(chan struct{}), held: make(chan struct{}), arrived: make(chan struct{}, 100)}
	s := startBatch(t, BatchConfig{Capacity: 1024, EntriesMax: 4, BytesMax: 100, Wait: ringbuf.Blocking}, r)
	// One proposal to hold the stage in route while the burst queues.
	if err := s.Propose(t.Context(), Proposal{Group: 9, Cmd: []byte("first")}); err != nil {
		t.Fatal(err)
	}
	<-r.held // the stage is busy: the burst queues for the next drain
	var burst []Proposal
	for i := range 10 {
		burst = append(burst, Proposal{Group: 1, Cmd: cmd(1, i, 10)}) // 10 bytes: cut by entries (4)
		burst = append(burst, Proposal{Group: 2, Cmd: cmd(2, i, 60)}) // 60 bytes: cut by bytes (2 per batch)
	}
	if err := s.ProposeBatch(t.Context(), burst); err != nil {
		t.Fatal(err)
	}
	close(r.gate)
	<-r.arrived
	<-r.arrived
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.drains) != 2 {
		t.Fatalf("%d drains, want the lone proposal and the burst", len(r.drains))
	}
	next := map[uint64]int{}
	sizes := map[uint64][]int{}
	for _, b := range r.drains[1] {
		for _, p := range b.Proposals {
			if p.Group != b.Group {
				t.Fatalf("group %d proposal in group %d's batch", p.Group, b.Group)
			}
			if want := string(cmd(b.Group, next[b.Group], len(p.Cmd))); string(p.Cmd) != want {
				t.Fatalf("group %d: got %q, want %q: out of order", b.Group, p.Cmd[:4], want[:4])
			}
			next[b.Group]++
		}
		sizes[b.Group] = append(sizes[b.Group], len(b.Proposals))
	}
	if fmt.Sprint(sizes[1]) != "[4 4 2]" || fmt.Sprint(sizes[2]) != "[2 2 2 2 2]" {
		t.Fatalf("batch sizes %v (group 1, cut at 4 entries) and %v (group 2, cut at 100 bytes)", sizes[1], sizes[2])
	}
}

// A lone proposal is routed without waiting for its batch to fill.
func TestBatchStageRoutesLoneProposalAtOnce(t *testing.T) {
	r := &routeLog{arrived: make(chan struct{}, 100)}
	s := startBatch(t, BatchConfig{Capacity: 16, EntriesMax: 64, BytesMax: 1 << 20, Wait: ringbuf.Blocking}, r)
	for i := range 3 {
		if err := s.Propose(t.Context(), Proposal{Group: 1, Cmd: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("proposal %d never routed", i)
		}
	}
	// The stage counts a drain after routing it: wait for the count.
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Items != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("stats count %d proposals, want 3", s.Stats().Items)
		}
		<-time.After(time.Millisecond)
	}
}

// With MaxWait set, proposals that arrive one by one while the stage holds
// back after a small drain are routed together; without it, each goes on
// its own (TestBatchStageRoutesLoneProposalAtOnce covers the default).
func TestBatchStageMaxWaitGathers(t *testing.T) {
	r := &routeLog{arrived: make(chan struct{}, 100)}
	s := startBatch(t, BatchConfig{Capacity: 1024, EntriesMax: 64, BytesMax: 1 << 20, MaxWait: 300 * time.Millisecond, Wait: ringbuf.Blocking}, r)
	propose := func(i int) {
		if err := s.Propose(t.Context(), Proposal{Group: 1, Cmd: cmd(1, i, 8), Done: NewCompletion()}); err != nil {
			t.Fatal(err)
		}
	}
	propose(0)
	<-r.arrived // routed at once; the stage now holds back for MaxWait
	for i := 1; i <= 10; i++ {
		propose(i)
	}
	<-r.arrived
	r.mu.Lock()
	defer r.mu.Unlock()
	if got := len(r.drains[1][0].Proposals); got != 10 {
		t.Fatalf("the second route carried %d proposals, want the 10 published while the stage held back", got)
	}
}
