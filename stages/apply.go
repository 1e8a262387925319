package stages

import (
	"context"
	"fmt"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/ringbuf"
)

// ApplyTask is one Ready's committed entries of one group, with the
// completion of each entry a local caller waits on (nil where none does).
type ApplyTask struct {
	Group   uint64
	SM      fsm.StateMachine
	Entries []consensus.Entry
	Dones   []*Completion // aligned with Entries
	// Applied is called from the apply stage once the entries are applied,
	// with the last index: the step worker's acknowledgement and the
	// readers' wake-up.
	Applied func(group, index uint64)
	// Barrier, if set, is closed once everything submitted before the task
	// is applied; such a task carries no entries.
	Barrier chan struct{}
}

// ApplyStage applies the committed entries of every group, off the
// consensus path: the step workers hand over committed entries and go on,
// and callers are completed here with their results. Each group's
// entries of one drain reach its state machine as one Update.
//
// A failed Update is fatal: Run returns the error and the host stops,
// because a replica that skipped an entry would diverge.
type ApplyStage struct {
	ring  *ringbuf.Ring[ApplyTask]
	stats stageCounters
	ents  []fsm.Entry // owned by the consumer
}

// NewApplyStage returns a stage of capacity tasks.
func NewApplyStage(capacity int, wait ringbuf.WaitStrategy) (*ApplyStage, error) {
	ring, err := ringbuf.New[ApplyTask](ringbuf.Config{Capacity: capacity, Wait: wait})
	if err != nil {
		return nil, fmt.Errorf("stages: apply ring: %w", err)
	}
	return &ApplyStage{ring: ring}, nil
}

// Submit queues tasks, waiting while the ring is full.
func (s *ApplyStage) Submit(ctx context.Context, tasks []ApplyTask) error {
	for len(tasks) > 0 {
		n := min(len(tasks), s.ring.Cap())
		if err := s.ring.PublishBatch(ctx, tasks[:n]); err != nil {
			return err
		}
		tasks = tasks[n:]
	}
	return nil
}

// Run is the stage's consumer; it returns ringbuf.ErrClosed after Close,
// or the first state machine failure.
func (s *ApplyStage) Run() error { return s.ring.Run(s.handle) }

// Close stops the stage once what was submitted before is applied.
func (s *ApplyStage) Close() { s.ring.Close() }

// Stats returns the stage's counters.
func (s *ApplyStage) Stats() Stats { return s.stats.snapshot(s.ring.Len()) }

func (s *ApplyStage) handle(tasks []ApplyTask, _ bool) error {
	start := time.Now()
	n := 0
	// A task is one Ready of one group; consecutive tasks of a group are
	// merged into one Update.
	for i := 0; i < len(tasks); {
		j := i + 1
		for j < len(tasks) && tasks[j].Group == tasks[i].Group {
			j++
		}
		if err := s.apply(tasks[i:j]); err != nil {
			return err
		}
		for _, t := range tasks[i:j] {
			n += len(t.Entries)
			if t.Barrier != nil {
				close(t.Barrier)
			}
		}
		i = j
	}
	s.stats.record(n, time.Since(start))
	return nil
}

func (s *ApplyStage) apply(tasks []ApplyTask) error {
	s.ents = s.ents[:0]
	for _, t := range tasks {
		for _, e := range t.Entries {
			fe := fsm.Entry{Index: e.Index}
			if e.Type == consensus.EntryNormal {
				fe.Cmd = e.Data
				if fe.Cmd == nil {
					fe.Cmd = []byte{} // a command, if an empty one
				}
			}
			s.ents = append(s.ents, fe)
		}
	}
	if len(s.ents) == 0 {
		return nil
	}
	t0 := tasks[0]
	if err := t0.SM.Update(s.ents); err != nil {
		err = fmt.Errorf("stages: group %d: state machine failed at or after entry %d: %w", t0.Group, s.ents[0].Index, err)
		for _, t := range tasks {
			for _, d := range t.Dones {
				if d != nil {
					d.Complete(nil, err)
				}
			}
		}
		return err
	}
	k := 0
	for _, t := range tasks {
		for i, d := range t.Dones {
			if d != nil {
				d.Complete(s.ents[k+i].Result, nil)
			}
		}
		k += len(t.Entries)
	}
	last := s.ents[len(s.ents)-1].Index
	clear(s.ents) // drop the commands and results
	t0.Applied(t0.Group, last)
	return nil
}
