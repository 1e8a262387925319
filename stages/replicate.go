package stages

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/raftpipe/raftpipe/ringbuf"
	"github.com/raftpipe/raftpipe/transport"
)

// Sender is where the replicate stage hands messages: the transport.
type Sender interface {
	Send(batch []transport.Msg)
}

// ReplicateStage hands the messages every step worker produces to the
// transport, one Send per drain with each destination's messages
// together, so the transport queues each peer's share as one batch and
// the heartbeats of a tick leave as one frame. It runs beside the fsync
// stage: a leader's appends go out before its own disk has them (the
// leader counts itself only after its fsync).
type ReplicateStage struct {
	ring  *ringbuf.Ring[transport.Msg]
	out   Sender
	stats stageCounters
	buf   []transport.Msg // owned by the consumer: the drain, until its end
}

// NewReplicateStage returns a stage of capacity messages sending to out.
func NewReplicateStage(capacity int, wait ringbuf.WaitStrategy, out Sender) (*ReplicateStage, error) {
	ring, err := ringbuf.New[transport.Msg](ringbuf.Config{Capacity: capacity, Wait: wait})
	if err != nil {
		return nil, fmt.Errorf("stages: replicate ring: %w", err)
	}
	return &ReplicateStage{ring: ring, out: out}, nil
}

// Submit queues msgs as one batch, waiting while the ring is full.
func (s *ReplicateStage) Submit(ctx context.Context, msgs []transport.Msg) error {
	for len(msgs) > 0 {
		n := min(len(msgs), s.ring.Cap())
		if err := s.ring.PublishBatch(ctx, msgs[:n]); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

// Run is the stage's consumer; it returns ringbuf.ErrClosed after Close.
func (s *ReplicateStage) Run() error { return s.ring.Run(s.handle) }

// Close stops the stage once what was submitted before is sent.
func (s *ReplicateStage) Close() { s.ring.Close() }

// Stats returns the stage's counters.
func (s *ReplicateStage) Stats() Stats { return s.stats.snapshot(s.ring.Len(), s.ring.Cap()) }

func (s *ReplicateStage) handle(msgs []transport.Msg, end bool) error {
	s.buf = append(s.buf, msgs...)
	if !end {
		return nil
	}
	start := time.Now()
	// Stable: each destination's messages keep their order.
	slices.SortStableFunc(s.buf, func(a, b transport.Msg) int {
		switch {
		case a.To < b.To:
			return -1
		case a.To > b.To:
			return 1
		}
		return 0
	})
	s.out.Send(s.buf)
	s.stats.record(len(s.buf), time.Since(start))
	clear(s.buf) // the transport copied them; drop the entries they hold
	s.buf = s.buf[:0]
	return nil
}
