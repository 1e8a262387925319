package stages

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
	// SnapshotNow, if set, asks for a snapshot of the group as soon as
	// everything submitted before the task is applied; its outcome is sent
	// on the channel once the snapshot is written. Such a task carries no
	// entries.
	SnapshotNow chan<- SnapshotOutcome
	// Install, if set, replaces the state machine's state with a received
	// snapshot (fsm.Snapshotter), after what was submitted before it and
	// before what comes after; Installed is then called with its index.
	// Such a task carries no entries.
	Install   *installInfo
	Installed func(group, index uint64)
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
	log   *slog.Logger
	snaps *snapshotCounters // the engine's, which counts installs
	// observer, if set, is told what was applied, on the stage's
	// goroutine between drains (the snapshot policy).
	observer applyObserver
	// Owned by the consumer, for one drain.
	ents   []fsm.Entry
	runs   []applyRun
	stores []fsm.Committer
}

// NewApplyStage returns a stage of capacity tasks.
func NewApplyStage(capacity int, wait ringbuf.WaitStrategy) (*ApplyStage, error) {
	ring, err := ringbuf.New[ApplyTask](ringbuf.Config{Capacity: capacity, Wait: wait})
	if err != nil {
		return nil, fmt.Errorf("stages: apply ring: %w", err)
	}
	return &ApplyStage{ring: ring, log: slog.New(slog.DiscardHandler), snaps: new(snapshotCounters)}, nil
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
func (s *ApplyStage) Stats() Stats { return s.stats.snapshot(s.ring.Len(), s.ring.Cap()) }

// handle applies a drain in three steps: one Update per group (its
// consecutive tasks merged), then one Commit per shared store those
// machines write into (fsm.SharedStateMachine: one Pebble batch for all
// groups of the drain), and only then are callers completed and workers
// told: nothing is acknowledged before it took effect.
func (s *ApplyStage) handle(tasks []ApplyTask, _ bool) error {
	start := time.Now()
	s.ents, s.runs, s.stores = s.ents[:0], s.runs[:0], s.stores[:0]
	defer func() {
		clear(s.ents) // drop the commands and results
		clear(s.runs)
		clear(s.stores)
	}()
	for i := 0; i < len(tasks); {
		if tasks[i].Install != nil {
			if err := s.install(tasks[i]); err != nil {
				return s.fail(err, tasks)
			}
			i++
			continue
		}
		j := i + 1
		for j < len(tasks) && tasks[j].Group == tasks[i].Group && tasks[j].Install == nil {
			j++
		}
		run := applyRun{tasks: tasks[i:j], lo: len(s.ents)}
		s.appendEntries(run.tasks)
		run.hi = len(s.ents)
		s.runs = append(s.runs, run)
		if run.hi > run.lo {
			t0 := run.tasks[0]
			if err := t0.SM.Update(s.ents[run.lo:run.hi]); err != nil {
				return s.fail(fmt.Errorf("stages: group %d: state machine failed at or after entry %d: %w", t0.Group, s.ents[run.lo].Index, err), tasks)
			}
			if sh, ok := t0.SM.(fsm.SharedStateMachine); ok && !slices.Contains(s.stores, sh.Store()) {
				s.stores = append(s.stores, sh.Store())
			}
		}
		i = j
	}
	for _, c := range s.stores {
		if err := c.Commit(); err != nil {
			return s.fail(fmt.Errorf("stages: state machine store failed to commit: %w", err), tasks)
		}
	}
	for _, run := range s.runs {
		k := run.lo
		for _, t := range run.tasks {
			for i, d := range t.Dones {
				if d != nil {
					d.Complete(s.ents[k+i].Result, nil)
				}
			}
			k += len(t.Entries)
		}
		if t0 := run.tasks[0]; run.hi > run.lo {
			t0.Applied(t0.Group, s.ents[run.hi-1].Index)
			if s.observer != nil {
				s.observer.applied(t0.Group, t0.SM, run.tasks, s.ents[run.lo:run.hi])
			}
		}
		for _, t := range run.tasks {
			if t.Barrier != nil {
				close(t.Barrier)
			}
			if t.SnapshotNow != nil {
				if s.observer == nil {
					t.SnapshotNow <- SnapshotOutcome{Err: ErrNoSnapshots}
				} else {
					s.observer.requested(t.Group, t.SM, t.SnapshotNow)
				}
			}
		}
	}
	s.stats.record(len(s.ents), time.Since(start))
	return nil
}

// install loads a received snapshot into its state machine. Whatever this
// drain wrote before it into shared stores is committed first: the
// snapshot replaces the group's state, and nothing written before it may
// land on top.
func (s *ApplyStage) install(t ApplyTask) error {
	start := time.Now()
	err := s.load(t)
	// Counted before the worker hears of it, so that whoever sees the
	// snapshot installed also sees it counted.
	ended(start, err, &s.snaps.installed, &s.snaps.installFailures, &s.snaps.installTime)
	if err != nil {
		return err
	}
	s.log.Info("installed a snapshot", "group", t.Group, "index", t.Install.man.Index, "took", time.Since(start))
	t.Installed(t.Group, t.Install.man.Index)
	if s.observer != nil {
		s.observer.installed(t.Group)
	}
	return nil
}

func (s *ApplyStage) load(t ApplyTask) error {
	sn, ok := t.SM.(fsm.Snapshotter)
	if !ok {
		return fmt.Errorf("stages: group %d: a snapshot arrived for a state machine that cannot load one", t.Group)
	}
	for _, c := range s.stores {
		if err := c.Commit(); err != nil {
			return fmt.Errorf("stages: state machine store failed to commit: %w", err)
		}
	}
	if err := sn.RecoverFromSnapshot(t.Install.dir, t.Install.man); err != nil {
		return fmt.Errorf("stages: group %d: load snapshot %d: %w", t.Group, t.Install.man.Index, err)
	}
	return nil
}

// applyObserver follows what the apply stage applies.
type applyObserver interface {
	// applied is told of a group's tasks applied in one drain; ents are
	// their entries as the machine saw them.
	applied(group uint64, sm fsm.StateMachine, tasks []ApplyTask, ents []fsm.Entry)
	// installed is told that a received snapshot replaced a group's state.
	installed(group uint64)
	// requested is asked for a snapshot of the group now, its outcome to
	// be sent on reply.
	requested(group uint64, sm fsm.StateMachine, reply chan<- SnapshotOutcome)
}

// applyRun is one group's tasks of a drain, whose entries are
// s.ents[lo:hi].
type applyRun struct {
	tasks  []ApplyTask
	lo, hi int
}

// appendEntries adds the tasks' entries to s.ents as the state machine
// sees them.
func (s *ApplyStage) appendEntries(tasks []ApplyTask) {
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
}

// fail completes every caller of the drain with err, which stops the
// stage: a replica that skipped an entry would diverge.
func (s *ApplyStage) fail(err error, tasks []ApplyTask) error {
	for _, t := range tasks {
		for _, d := range t.Dones {
			if d != nil {
				d.Complete(nil, err)
			}
		}
	}
	return err
}
