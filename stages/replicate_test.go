package stages

import (
	"sync"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/ringbuf"
	"github.com/raftpipe/raftpipe/transport"
)

type recordingSender struct {
	mu    sync.Mutex
	sends [][]transport.Msg
	total int
	gate  chan struct{} // when set, Send waits on it
	held  sync.Once
	heldC chan struct{} // closed when the first Send waits on gate
}

func (r *recordingSender) Send(batch []transport.Msg) {
	if r.gate != nil {
		r.held.Do(func() { close(r.heldC) })
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sends = append(r.sends, append([]transport.Msg(nil), batch...))
	r.total += len(batch)
}

func (r *recordingSender) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// What workers submit while the transport is busy leaves in one Send,
// each destination's messages together and in the order submitted.
func TestReplicateStageOneSendPerDrainByDestination(t *testing.T) {
	out := &recordingSender{gate: make(chan struct{}), heldC: make(chan struct{})}
	s, err := NewReplicateStage(1024, ringbuf.Blocking, out)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	defer func() { s.Close(); <-done }()

	msg := func(to, group uint64) transport.Msg {
		return transport.Msg{Group: group, Message: consensus.Message{Type: consensus.MsgHeartbeat, To: to, From: 1, Term: 1}}
	}
	// The first Send blocks, so everything after it waits for one drain.
	if err := s.Submit(t.Context(), []transport.Msg{msg(2, 0)}); err != nil {
		t.Fatal(err)
	}
	<-out.heldC // the transport is busy: what follows waits for one drain
	var workers sync.WaitGroup
	for w := range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for g := uint64(1); g <= 50; g++ {
				batch := []transport.Msg{msg(2, uint64(w)*100+g), msg(3, uint64(w)*100+g)}
				if err := s.Submit(t.Context(), batch); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	workers.Wait()
	close(out.gate)
	deadline := time.After(10 * time.Second)
	for out.count() < 1+4*50*2 {
		select {
		case <-deadline:
			t.Fatalf("%d of %d messages sent", out.count(), 1+4*50*2)
		case <-time.After(time.Millisecond):
		}
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if len(out.sends) != 2 {
		t.Fatalf("%d sends for what waited behind one; want 2", len(out.sends))
	}
	last := map[uint64]uint64{} // worker -> last group seen, per destination 2
	batch := out.sends[1]
	for i, m := range batch {
		if i > 0 && batch[i-1].To > m.To {
			t.Fatalf("destinations interleaved: %d after %d", m.To, batch[i-1].To)
		}
		if m.To == 2 {
			w := m.Group / 100
			if m.Group <= last[w] {
				t.Fatalf("worker %d's messages reordered: group %d after %d", w, m.Group, last[w])
			}
			last[w] = m.Group
		}
	}
}
