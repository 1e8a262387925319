package stages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/logstore"
	"github.com/raftpipe/raftpipe/ringbuf"
	"github.com/raftpipe/raftpipe/transport"
)

// EngineConfig wires the stages of one host.
type EngineConfig struct {
	NodeID uint64
	// Workers is the number of step workers; groups are spread over them
	// by group ID.
	Workers int
	// WorkerCapacity, ReplicateCapacity, FsyncCapacity and ApplyCapacity
	// size the stages' rings (powers of two).
	WorkerCapacity    int
	ReplicateCapacity int
	FsyncCapacity     int
	ApplyCapacity     int
	Batch             BatchConfig
	FsyncWriteBytes   int
	Wait              ringbuf.WaitStrategy
	// Consensus is the template of every group's consensus config; ID,
	// Storage, Members and Applied are filled in per group.
	Consensus consensus.Config
	Store     *logstore.Store
	Sender    Sender
	Logger    *slog.Logger
	// TickInterval is the time between two calls of Tick, which turns
	// leases counted in ticks into times on Clock.
	TickInterval time.Duration
	// Clock tells the time leases are checked against; the system clock
	// if nil.
	Clock Clock
	// Snapshot is the snapshot and log compaction policy; none if its
	// Entries is 0.
	Snapshot SnapshotConfig
	// DiskStallTimeout fails the engine with ErrDiskStall, checked at
	// every Tick, once a log write has taken longer; 0 never does.
	DiskStallTimeout time.Duration
}

// Clock is the time source of the read path.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Engine runs the stages of one host: propose and batch, the step workers,
// replicate, fsync and apply. The host feeds it proposals, inbound
// messages and ticks.
type Engine struct {
	cfg       EngineConfig
	log       *slog.Logger
	batch     *BatchStage
	workers   []*worker
	replicate *ReplicateStage
	fsync     *FsyncStage
	apply     *ApplyStage
	snapshots *SnapshotStage // nil without a snapshot policy
	snapDone  chan struct{}  // closed when the snapshot stage has returned
	out       outgoing       // snapshot streams being sent
	installs  sync.Map       // (group, index) -> installInfo: received, not yet handed out by the core
	bg        sync.WaitGroup // snapshot sends being started

	groups sync.Map // uint64 -> *groupHandle

	clock           Clock
	epoch           time.Time // the origin of leaseUntil's scale (sinceEpoch)
	tickInterval    time.Duration
	electionTicks   int
	leaseDriftTicks int
	// readRoundTicksMax is how long a ReadIndex round may go unanswered
	// before its reads fail.
	readRoundTicksMax uint64
	leaseReads        atomic.Uint64 // reads served through the lease
	indexReads        atomic.Uint64 // reads that went through a ReadIndex round
	readRounds        atomic.Uint64 // ReadIndex requests, each shared by the reads of a drain

	// Counters for the metrics layer (EngineStats). Every read adds to
	// reads (by mode): the padding keeps its cache line apart from the
	// read-mostly fields around it, which reads and workers load.
	_     [64]byte
	reads [numReadModes]atomic.Uint64
	_     [64]byte
	cons  consensusCounters
	snaps snapshotCounters

	ctx     context.Context // ends at Stop: submissions stop waiting
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped atomic.Bool
	errOnce sync.Once
	err     error         // the first stage failure
	failed  chan struct{} // closed on the first stage failure
}

// NewEngine builds the stages; Start runs them.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Workers <= 0 || cfg.NodeID == 0 || cfg.Store == nil || cfg.Sender == nil || cfg.TickInterval <= 0 {
		return nil, fmt.Errorf("stages: engine needs a node ID, workers, a store, a sender and a tick interval")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	def := consensus.DefaultConfig()
	if cfg.Consensus.ElectionTicks == 0 {
		cfg.Consensus.ElectionTicks = def.ElectionTicks
	}
	if cfg.Consensus.LeaseDriftTicks == 0 {
		cfg.Consensus.LeaseDriftTicks = def.LeaseDriftTicks
	}
	e := &Engine{
		cfg: cfg, log: cfg.Logger, failed: make(chan struct{}), out: outgoing{open: map[[2]uint64]*fsm.ArchiveReader{}},
		clock: cfg.Clock, epoch: cfg.Clock.Now(), tickInterval: cfg.TickInterval,
		electionTicks: cfg.Consensus.ElectionTicks, leaseDriftTicks: cfg.Consensus.LeaseDriftTicks,
		readRoundTicksMax: 2 * uint64(cfg.Consensus.ElectionTicks),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	var err error
	if e.batch, err = NewBatchStage(cfg.Batch, e.route); err != nil {
		return nil, err
	}
	for i := range cfg.Workers {
		w, err := newWorker(e, i, cfg.WorkerCapacity, cfg.Wait)
		if err != nil {
			return nil, err
		}
		e.workers = append(e.workers, w)
	}
	if e.replicate, err = NewReplicateStage(cfg.ReplicateCapacity, cfg.Wait, cfg.Sender); err != nil {
		return nil, err
	}
	fcfg := FsyncConfig{Capacity: cfg.FsyncCapacity, WriteBytesMax: cfg.FsyncWriteBytes, Wait: cfg.Wait}
	if e.fsync, err = NewFsyncStage(cfg.Store, fcfg, func(w int, acks []PersistAck) { e.workers[w].persisted(acks) }); err != nil {
		return nil, err
	}
	if e.apply, err = NewApplyStage(cfg.ApplyCapacity, cfg.Wait); err != nil {
		return nil, err
	}
	e.apply.log = e.log
	e.apply.snaps = &e.snaps
	if cfg.Snapshot.Entries > 0 || cfg.Snapshot.Bytes > 0 {
		if cfg.Snapshot.Dir == "" {
			return nil, fmt.Errorf("stages: a snapshot policy needs a folder")
		}
		e.snapshots = newSnapshotStage(e, cfg.Snapshot)
		e.apply.observer = e.snapshots
	}
	return e, nil
}

// Start runs every stage in its own goroutine.
func (e *Engine) Start() {
	run := func(name string, f func() error) {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			if err := f(); err != nil && !errors.Is(err, ringbuf.ErrClosed) {
				e.fail(fmt.Errorf("stages: %s stopped: %w", name, err))
			}
		}()
	}
	run("batch", e.batch.Run)
	for i, w := range e.workers {
		run(fmt.Sprintf("worker %d", i), w.run)
	}
	run("replicate", e.replicate.Run)
	run("fsync", e.fsync.Run)
	run("apply", e.apply.Run)
	if e.snapshots != nil {
		e.snapDone = make(chan struct{})
		go func() {
			defer close(e.snapDone)
			e.snapshots.run()
		}()
	}
}

// fail records the first stage failure; the host stops on it.
func (e *Engine) fail(err error) {
	e.errOnce.Do(func() {
		e.err = err
		e.log.Error("pipeline stage failed; the host must stop", "err", err)
		close(e.failed)
	})
}

// Failed is closed when a stage fails; Err says why.
func (e *Engine) Failed() <-chan struct{} { return e.failed }

// Err is the first stage failure, or nil.
func (e *Engine) Err() error {
	select {
	case <-e.failed:
		return e.err
	default:
		return nil
	}
}

func (e *Engine) workerOf(group uint64) *worker { return e.workers[group%uint64(len(e.workers))] }

// StartGroup starts a group with its state machine: a new group with
// members, or one whose log the store already holds.
func (e *Engine) StartGroup(ctx context.Context, group uint64, members consensus.Membership, sm fsm.StateMachine) error {
	if e.stopped.Load() {
		return ErrStopped
	}
	h := &groupHandle{id: group, worker: int(group % uint64(len(e.workers))), sm: sm, stopped: make(chan struct{}), startMembers: members}
	if _, loaded := e.groups.LoadOrStore(group, h); loaded {
		return fmt.Errorf("%w: %d", ErrGroupExists, group)
	}
	if e.snapshots != nil {
		e.snapshots.forgetMembership(group) // the machine may start behind what was followed
	}
	cfg := e.cfg.Consensus
	cfg.ID = e.cfg.NodeID
	cfg.Storage = e.cfg.Store.Storage(group)
	cfg.Members = members
	cfg.Applied = sm.Applied()
	snap, err := cfg.Storage.Snapshot()
	if err != nil {
		e.groups.Delete(group)
		return fmt.Errorf("stages: group %d: read the log's snapshot: %w", group, err)
	}
	if cfg.Applied < snap.Index {
		// A machine that keeps its state in memory starts empty: it loads
		// the snapshot the log starts after, kept in this host's folder.
		if err := e.recoverFromLocalSnapshot(group, sm, snap.Index); err != nil {
			e.groups.Delete(group)
			return err
		}
		cfg.Applied = sm.Applied()
	}
	// A state machine behind the log's snapshot has lost state the log no
	// longer holds: starting it would skip those entries forever (the bug
	// of Dragonboat's issues 156 and 369), so it is an error, never a
	// silent start.
	if cfg.Applied < snap.Index {
		e.groups.Delete(group)
		return fmt.Errorf("%w: group %d: the state machine has applied up to %d, but the log starts after its snapshot at %d", ErrStateBehindLog, group, cfg.Applied, snap.Index)
	}
	cfg.Seed = cfg.Seed ^ group
	h.applied.Store(cfg.Applied)
	s := &groupStart{cfg: cfg, sm: sm, h: h, done: make(chan error, 1)}
	if err := e.workerOf(group).ring.Publish(ctx, workerEvent{kind: evStart, group: group, start: s}); err != nil {
		e.groups.Delete(group)
		return err
	}
	select {
	case err := <-s.done:
		if err != nil {
			e.groups.Delete(group)
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Propose replicates cmd in group and returns the state machine's result
// once it is applied here.
func (e *Engine) Propose(ctx context.Context, group uint64, cmd []byte) ([]byte, error) {
	h, err := e.handle(group)
	if err != nil {
		return nil, err
	}
	if consensus.Role(h.role.Load()) != consensus.Leader {
		e.cons.refused[refusedNotLeader].Add(1)
		return nil, &NotLeaderError{Group: group, Leader: h.leader.Load()}
	}
	done := NewCompletion()
	if err := e.batch.Propose(ctx, Proposal{Group: group, Cmd: cmd, Done: done}); err != nil {
		return nil, e.waitErr(ctx, err)
	}
	o, err := done.Wait(ctx)
	if err != nil {
		return nil, e.waitErr(ctx, err)
	}
	return o.Result, o.Err
}

// ProposeBatch proposes cmds to group as one publication into the propose
// ring, so that a pipelined client's burst reaches the log together and
// in order, then waits for them all. The outcomes are aligned with cmds;
// the error is set instead when none was proposed, or when ctx ended
// before every outcome was known.
func (e *Engine) ProposeBatch(ctx context.Context, group uint64, cmds [][]byte) ([]Outcome, error) {
	h, err := e.handle(group)
	if err != nil {
		return nil, err
	}
	if consensus.Role(h.role.Load()) != consensus.Leader {
		e.cons.refused[refusedNotLeader].Add(uint64(len(cmds)))
		return nil, &NotLeaderError{Group: group, Leader: h.leader.Load()}
	}
	ps := make([]Proposal, len(cmds))
	for i, c := range cmds {
		ps[i] = Proposal{Group: group, Cmd: c, Done: NewCompletion()}
	}
	if err := e.batch.ProposeBatch(ctx, ps); err != nil {
		// PublishBatch publishes all or nothing.
		if errors.Is(err, ringbuf.ErrBatchTooLarge) {
			return nil, fmt.Errorf("stages: a burst of %d proposals exceeds the propose queue: %w", len(cmds), err)
		}
		return nil, e.waitErr(ctx, err)
	}
	out := make([]Outcome, len(ps))
	for i, p := range ps {
		o, err := p.Done.Wait(ctx)
		if err != nil {
			return nil, e.waitErr(ctx, err)
		}
		out[i] = o
	}
	return out, nil
}

// handle returns group's handle, or why there is none.
func (e *Engine) handle(group uint64) (*groupHandle, error) {
	if e.stopped.Load() {
		return nil, ErrStopped
	}
	v, ok := e.groups.Load(group)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrGroupNotFound, group)
	}
	return v.(*groupHandle), nil
}

// route hands the batch stage's batches to their workers, one publish per
// worker.
func (e *Engine) route(batches []ProposalBatch) {
	for _, b := range batches {
		ev := workerEvent{kind: evPropose, group: b.Group, props: b.Proposals}
		if err := e.workerOf(b.Group).ring.Publish(e.ctx, ev); err != nil {
			completeAll(b.Proposals, ErrStopped)
		}
	}
}

// Deliver hands inbound messages to the workers of their groups; it waits
// while a worker's ring is full, which holds the transport back.
func (e *Engine) Deliver(msgs []transport.Msg) {
	if len(msgs) == 0 {
		return
	}
	n := uint64(len(e.workers))
	first := msgs[0].Group % n
	same := true
	for _, m := range msgs[1:] {
		if m.Group%n != first {
			same = false
			break
		}
	}
	if same { // the common case, and free: the frame's slice goes as it is
		e.workers[first].ring.Publish(e.ctx, workerEvent{kind: evMessages, msgs: msgs})
		return
	}
	per := make([][]transport.Msg, len(e.workers))
	for _, m := range msgs {
		i := m.Group % uint64(len(e.workers))
		per[i] = append(per[i], m)
	}
	for i, ms := range per {
		if len(ms) > 0 {
			e.workers[i].ring.Publish(e.ctx, workerEvent{kind: evMessages, msgs: ms})
		}
	}
}

// Tick advances every group's clock by one tick.
//
// Tick also checks the log's disk: a write that has not finished within
// DiskStallTimeout fails the engine. A leader whose disk hangs would
// otherwise go on heartbeating, and no follower would ever stand for
// election while every write waited on it; failed, its host stops
// ticking, so its followers elect another.
func (e *Engine) Tick() {
	if limit := e.cfg.DiskStallTimeout; limit > 0 {
		if d := e.fsync.WritingFor(time.Now()); d > limit {
			e.fail(fmt.Errorf("%w: a log write has not finished after %s (limit %s)", ErrDiskStall, d.Round(time.Millisecond), limit))
			return
		}
	}
	for _, w := range e.workers {
		w.tick()
	}
}

// GroupStatus is what Status reports of a group.
type GroupStatus struct {
	Role    consensus.Role
	Term    uint64
	Leader  uint64
	Commit  uint64
	Applied uint64
	// LeaseExpiry is when the leader's lease ends on this host's clock;
	// zero when this node holds no lease.
	LeaseExpiry time.Time
}

// Status reports a group's state as its worker and the apply stage last
// published it.
func (e *Engine) Status(group uint64) (GroupStatus, bool) {
	v, ok := e.groups.Load(group)
	if !ok {
		return GroupStatus{}, false
	}
	h := v.(*groupHandle)
	st := GroupStatus{
		Role: consensus.Role(h.role.Load()), Term: h.term.Load(), Leader: h.leader.Load(),
		Commit: h.commit.Load(), Applied: h.applied.Load(),
	}
	if until := h.leaseUntil.Load(); until != 0 {
		st.LeaseExpiry = e.epoch.Add(time.Duration(until))
	}
	return st, true
}

// Stop stops accepting work, lets each stage drain what it holds, then
// fails every proposal still waiting with ErrStopped.
func (e *Engine) Stop() error {
	if e.stopped.Swap(true) {
		return e.Err()
	}
	e.batch.Close()
	for _, w := range e.workers {
		w.ring.Close()
	}
	e.cancel() // nothing waits on a full ring any more
	e.replicate.Close()
	e.fsync.Close()
	e.apply.Close()
	e.wg.Wait()
	if e.snapshots != nil { // the apply stage, its only producer, has returned
		e.snapshots.close()
		<-e.snapDone
	}
	for _, w := range e.workers {
		w.failPending(ErrStopped)
	}
	e.bg.Wait()
	return e.Err()
}

// EngineStats are the counters of every stage of a host.
type EngineStats struct {
	Batch, Replicate, Fsync, Apply Stats
	// Workers are the step workers' drains, one entry per worker.
	Workers []Stats
	// LeaseReads were served through the leader's lease, IndexReads
	// through a ReadIndex round (follower reads included); ReadRounds is
	// how many rounds those took.
	LeaseReads, IndexReads, ReadRounds uint64
	// Reads counts the reads begun on a group this host runs, by the
	// mode asked for: index it with a ReadMode.
	Reads     [numReadModes]uint64
	Consensus ConsensusStats
	Snapshots SnapshotStats
}

// Stats returns the counters of every stage.
func (e *Engine) Stats() EngineStats {
	s := EngineStats{
		Batch: e.batch.Stats(), Replicate: e.replicate.Stats(), Fsync: e.fsync.Stats(), Apply: e.apply.Stats(),
		LeaseReads: e.leaseReads.Load(), IndexReads: e.indexReads.Load(), ReadRounds: e.readRounds.Load(),
		Consensus: e.cons.snapshot(), Snapshots: e.snaps.snapshot(),
	}
	for m := range s.Reads {
		s.Reads[m] = e.reads[m].Load()
	}
	for _, w := range e.workers {
		s.Workers = append(s.Workers, w.stats.snapshot(w.ring.Len(), w.ring.Cap()))
	}
	return s
}
