package stages

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/raftpipe/raftpipe/ringbuf"
)

// BatchConfig sizes the propose ring and the batches cut from it.
type BatchConfig struct {
	// Capacity is the propose ring's size in proposals (a power of two).
	Capacity int
	// EntriesMax and BytesMax cut a group's batch: a batch holds at most
	// EntriesMax proposals, and stops growing once its commands reach
	// BytesMax (a single larger command still travels alone).
	EntriesMax int
	BytesMax   int
	// MaxWait, off (0) by default, holds the stage back that long after a
	// drain that did not fill a batch, so that the next drain finds more:
	// throughput bought with up to MaxWait of latency per proposal.
	MaxWait time.Duration
	Wait    ringbuf.WaitStrategy
}

// ProposalBatch is a run of one group's proposals, in the order they were
// published. Its slice belongs to whoever route hands it to.
type ProposalBatch struct {
	Group     uint64
	Proposals []Proposal
}

// BatchStage drains the propose ring, which any number of client
// goroutines publish into, and groups what it finds by Raft group. Each
// drain ends in one call to route with every batch it cut, so a burst
// reaches the step workers as a few large batches and a lone proposal
// goes on at once: there is no timer in the way.
type BatchStage struct {
	ring  *ringbuf.Ring[Proposal]
	cfg   BatchConfig
	route func([]ProposalBatch)
	stats stageCounters

	// Owned by the consumer.
	out  []ProposalBatch
	open map[uint64]int // group -> index in out of its batch still taking proposals
	size []int          // bytes of each batch in out
	// yielded is set once the stage has yielded for the proposals in out.
	yielded bool
}

// NewBatchStage returns a stage handing its batches to route, which is
// called from the stage's goroutine and may keep the batches but not the
// slice that holds them.
func NewBatchStage(cfg BatchConfig, route func([]ProposalBatch)) (*BatchStage, error) {
	if cfg.EntriesMax <= 0 || cfg.BytesMax <= 0 {
		return nil, fmt.Errorf("stages: batch entries_max %d and bytes_max %d must be positive", cfg.EntriesMax, cfg.BytesMax)
	}
	ring, err := ringbuf.New[Proposal](ringbuf.Config{Capacity: cfg.Capacity, Wait: cfg.Wait})
	if err != nil {
		return nil, fmt.Errorf("stages: propose ring: %w", err)
	}
	return &BatchStage{ring: ring, cfg: cfg, route: route, open: map[uint64]int{}}, nil
}

// Propose publishes p, waiting while the ring is full until ctx ends.
func (s *BatchStage) Propose(ctx context.Context, p Proposal) error { return s.ring.Publish(ctx, p) }

// TryPropose publishes p or fails at once with ringbuf.ErrFull.
func (s *BatchStage) TryPropose(p Proposal) error { return s.ring.TryPublish(p) }

// ProposeBatch publishes ps together, as a pipelined client burst: they
// reach the same drain, in order.
func (s *BatchStage) ProposeBatch(ctx context.Context, ps []Proposal) error {
	return s.ring.PublishBatch(ctx, ps)
}

// Run is the stage's consumer; it returns ringbuf.ErrClosed after Close.
func (s *BatchStage) Run() error { return s.ring.Run(s.handle) }

// Close stops the stage once what was published before is routed.
func (s *BatchStage) Close() { s.ring.Close() }

// Stats returns the stage's counters.
func (s *BatchStage) Stats() Stats { return s.stats.snapshot(s.ring.Len(), s.ring.Cap()) }

func (s *BatchStage) handle(ps []Proposal, end bool) error {
	for _, p := range ps {
		i, ok := s.open[p.Group]
		if ok && (len(s.out[i].Proposals) >= s.cfg.EntriesMax || s.size[i] >= s.cfg.BytesMax) {
			ok = false
		}
		if !ok {
			i = len(s.out)
			s.out = append(s.out, ProposalBatch{Group: p.Group})
			s.size = append(s.size, 0)
			s.open[p.Group] = i
		}
		s.out[i].Proposals = append(s.out[i].Proposals, p)
		s.size[i] += len(p.Cmd)
	}
	if !end {
		return nil
	}
	n := 0
	for _, b := range s.out {
		n += len(b.Proposals)
	}
	if !s.yielded && n < s.cfg.EntriesMax {
		// Yield once to whatever is runnable before routing a small batch.
		// On a quiet host nothing is, and this costs a scheduler call. On
		// a busy one the runnable goroutines are mostly clients that the
		// apply stage just completed, about to propose again: routing
		// before they run would cut their wave into batches of one or
		// two, each paying a worker drain, an append to every follower
		// and a log write. A yield is not a timer: it waits for no one
		// who is not already running.
		s.yielded = true
		runtime.Gosched()
		if s.ring.Len() > len(ps) {
			return nil // more was published: the next drain routes it all
		}
	}
	s.yielded = false
	start := time.Now()
	s.route(s.out)
	s.stats.record(n, time.Since(start))
	clear(s.out) // the batches are route's now
	s.out, s.size = s.out[:0], s.size[:0]
	clear(s.open)
	if s.cfg.MaxWait > 0 && n < s.cfg.EntriesMax {
		time.Sleep(s.cfg.MaxWait)
	}
	return nil
}
