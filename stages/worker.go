package stages

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/ringbuf"
	"github.com/raftpipe/raftpipe/transport"
)

// A step worker owns the consensus cores of its share of the groups. What
// concerns them reaches it through its MPSC ring (proposal batches,
// inbound messages, reads, group starts and other calls) or its inbox
// (persist and apply acknowledgements, ticks, transport reports). At the
// end of each drain it collects every dirty group's Ready and hands the
// parts on: messages to the replicate stage, writes to the fsync stage,
// committed entries to the apply stage, each as one submission for the
// whole drain.
//
// The inbox exists because the fsync and apply stages must never wait on a
// worker: a worker waits on them (their rings are bounded), so if they
// also published into its ring, a full ring on each side would deadlock.
type worker struct {
	id    int
	e     *Engine
	ring  *ringbuf.Ring[workerEvent]
	in    inbox
	stats stageCounters

	// Owned by the worker's goroutine.
	groups   map[uint64]*groupState
	dirty    []*groupState
	msgs     []transport.Msg
	persists []PersistRequest
	applies  []ApplyTask
	gens     uint64 // incarnations handed to started groups
	readSeq  uint64 // contexts handed to ReadIndex requests
	// tickCount is the ticks handled so far; tickTimes[t%len] is when tick
	// t was handled, for the last len ticks (the lease is measured from
	// them).
	tickCount uint64
	tickTimes []time.Time
}

type eventKind uint8

const (
	evWake eventKind = iota // look at the inbox
	evPropose
	evMessages
	evStart
	evRead
	evCall
)

type workerEvent struct {
	kind  eventKind
	group uint64
	props []Proposal      // evPropose
	msgs  []transport.Msg // evMessages: all for groups of this worker
	start *groupStart     // evStart
	read  *readWaiter     // evRead
	call  *groupCall      // evCall
}

type groupStart struct {
	cfg  consensus.Config
	sm   fsm.StateMachine
	h    *groupHandle
	done chan error
}

// inbox is what the stages downstream hand back to a worker without ever
// waiting for it.
type inbox struct {
	mu        sync.Mutex
	acks      []PersistAck
	applied   map[uint64]uint64
	installed map[uint64]uint64 // snapshots loaded into their state machines
	ticks     int
	reports   []report
}

// report is news from the transport for one group's core, or for all of
// them.
type report struct {
	all   bool
	group uint64
	fn    func(*groupState)
}

// groupState is a group as its worker sees it.
type groupState struct {
	id       uint64
	gen      uint64 // incarnation: acks of an earlier one are ignored
	core     *consensus.Core
	sm       fsm.StateMachine
	h        *groupHandle
	tickBase uint64            // the worker's tickCount when the core's clock read 0
	pending  []pendingProposal // proposed here, not yet committed, by index
	newReads []*readWaiter     // arrived since the last flush
	rounds   []readRound       // ReadIndex requests not answered yet, oldest first
	dirty    bool
	removed  bool
	// seenTerm and seenLeader are the term and leader last published, for
	// the election and leader change counters (consensusCounters.observe).
	seenTerm, seenLeader uint64
}

type pendingProposal struct {
	index, term uint64
	done        *Completion
}

func newWorker(e *Engine, id, capacity int, wait ringbuf.WaitStrategy) (*worker, error) {
	ring, err := ringbuf.New[workerEvent](ringbuf.Config{Capacity: capacity, Wait: wait})
	if err != nil {
		return nil, fmt.Errorf("stages: worker ring: %w", err)
	}
	w := &worker{id: id, e: e, ring: ring, groups: map[uint64]*groupState{}, in: inbox{applied: map[uint64]uint64{}, installed: map[uint64]uint64{}}}
	// A lease starts at most an election timeout ago.
	w.tickTimes = make([]time.Time, max(256, 2*e.electionTicks))
	w.tickTimes[0] = e.clock.Now()
	return w, nil
}

// wake makes sure the worker looks at its inbox soon: a full ring means it
// is busy and looks at the end of its drain anyway.
func (w *worker) wake() { w.ring.TryPublish(workerEvent{kind: evWake}) }

func (w *worker) persisted(acks []PersistAck) {
	w.in.mu.Lock()
	w.in.acks = append(w.in.acks, acks...)
	w.in.mu.Unlock()
	w.wake()
}

func (w *worker) appliedTo(group, index uint64) {
	w.in.mu.Lock()
	w.in.applied[group] = max(w.in.applied[group], index)
	w.in.mu.Unlock()
	w.wake()
}

func (w *worker) snapshotInstalled(group, index uint64) {
	w.in.mu.Lock()
	w.in.installed[group] = max(w.in.installed[group], index)
	w.in.mu.Unlock()
	w.wake()
}

func (w *worker) tick() {
	w.in.mu.Lock()
	w.in.ticks++
	w.in.mu.Unlock()
	w.wake()
}

func (w *worker) report(fn func(*groupState)) { w.addReport(report{all: true, fn: fn}) }

func (w *worker) reportGroup(group uint64, fn func(*groupState)) {
	w.addReport(report{group: group, fn: fn})
}

func (w *worker) addReport(r report) {
	w.in.mu.Lock()
	w.in.reports = append(w.in.reports, r)
	w.in.mu.Unlock()
	w.wake()
}

func (w *worker) run() error { return w.ring.Run(w.handle) }

func (w *worker) handle(evs []workerEvent, end bool) error {
	start := time.Now()
	defer func() { w.stats.record(len(evs), time.Since(start)) }()
	for i := range evs {
		ev := &evs[i]
		switch ev.kind {
		case evPropose:
			w.propose(ev.group, ev.props)
		case evMessages:
			for _, m := range ev.msgs {
				gs := w.groups[m.Group]
				if gs == nil {
					continue // a group not started here (yet): Raft retries
				}
				if err := gs.core.Step(m.Message); err != nil {
					w.e.log.Debug("message refused", "group", m.Group, "from", m.From, "type", m.Type.String(), "err", err)
				}
				w.markDirty(gs)
			}
		case evStart:
			ev.start.done <- w.startGroup(ev.group, ev.start)
		case evRead:
			if gs := w.groups[ev.group]; gs != nil {
				gs.newReads = append(gs.newReads, ev.read)
				w.markDirty(gs)
			} else {
				ev.read.complete(0, fmt.Errorf("%w: %d", ErrGroupNotFound, ev.group))
			}
		case evCall:
			if gs := w.groups[ev.group]; gs != nil {
				ev.call.done <- ev.call.fn(w, gs)
			} else {
				ev.call.done <- fmt.Errorf("%w: %d", ErrGroupNotFound, ev.group)
			}
		}
	}
	if !end {
		return nil
	}
	w.drainInbox()
	return w.flush()
}

func (w *worker) startGroup(group uint64, s *groupStart) error {
	if w.groups[group] != nil {
		return fmt.Errorf("%w: %d", ErrGroupExists, group)
	}
	core, err := consensus.New(s.cfg)
	if err != nil {
		return fmt.Errorf("stages: group %d: %w", group, err)
	}
	w.gens++
	// A restarted group's term and vote come back from its log: they are
	// where it stands, not an election it started.
	gs := &groupState{id: group, gen: w.gens, core: core, sm: s.sm, h: s.h, tickBase: w.tickCount, seenTerm: core.Status().Term}
	w.groups[group] = gs
	w.markDirty(gs)
	return nil
}

func (w *worker) markDirty(gs *groupState) {
	if !gs.dirty {
		gs.dirty = true
		w.dirty = append(w.dirty, gs)
	}
}

func (w *worker) propose(group uint64, props []Proposal) {
	gs := w.groups[group]
	if gs == nil {
		completeAll(props, fmt.Errorf("%w: %d", ErrGroupNotFound, group))
		return
	}
	ents := make([]consensus.Entry, len(props)) // kept by the core and the log
	for i, p := range props {
		ents[i].Data = p.Cmd
	}
	term, first, err := gs.core.Propose(ents)
	if err != nil {
		err = w.coreErr(gs, err)
		w.e.cons.refuse(err, len(props))
		completeAll(props, err)
		return
	}
	for i, p := range props {
		gs.pending = append(gs.pending, pendingProposal{index: first + uint64(i), term: term, done: p.Done})
	}
	w.markDirty(gs)
}

func completeAll(props []Proposal, err error) {
	for _, p := range props {
		p.Done.Complete(nil, err)
	}
}

func (w *worker) drainInbox() {
	w.in.mu.Lock()
	acks, ticks, reports := w.in.acks, w.in.ticks, w.in.reports
	w.in.acks, w.in.ticks, w.in.reports = nil, 0, nil
	var applied, installed map[uint64]uint64
	if len(w.in.applied) > 0 {
		applied, w.in.applied = w.in.applied, map[uint64]uint64{}
	}
	if len(w.in.installed) > 0 {
		installed, w.in.installed = w.in.installed, map[uint64]uint64{}
	}
	w.in.mu.Unlock()
	for _, a := range acks {
		if gs := w.groups[a.Group]; gs != nil && gs.gen == a.Gen {
			if err := gs.core.Persisted(a.Seq); err != nil {
				w.e.log.Error("persist acknowledgement refused", "group", a.Group, "seq", a.Seq, "err", err)
			}
			w.markDirty(gs)
		}
	}
	for g, idx := range installed {
		if gs := w.groups[g]; gs != nil {
			if err := gs.core.SnapshotInstalled(idx); err != nil {
				w.e.log.Error("snapshot installation refused", "group", g, "index", idx, "err", err)
			}
			w.markDirty(gs)
		}
	}
	for g, idx := range applied {
		if gs := w.groups[g]; gs != nil {
			if err := gs.core.Applied(idx); err != nil {
				w.e.log.Error("apply acknowledgement refused", "group", g, "index", idx, "err", err)
			}
			w.markDirty(gs)
		}
	}
	if ticks > 0 {
		// Ticks that waited in the inbox are stamped with the time they
		// are handled, later than they were due: that only shortens
		// leases.
		now := w.e.clock.Now()
		for range ticks {
			w.tickCount++
			w.tickTimes[w.tickCount%uint64(len(w.tickTimes))] = now
			for _, gs := range w.groups {
				gs.core.Tick()
				w.markDirty(gs)
			}
		}
		for _, gs := range w.groups {
			w.expireReads(gs, w.e.readRoundTicksMax)
		}
	}
	for _, r := range reports {
		if !r.all {
			if gs := w.groups[r.group]; gs != nil {
				r.fn(gs)
				w.markDirty(gs)
			}
			continue
		}
		for _, gs := range w.groups {
			r.fn(gs)
			w.markDirty(gs)
		}
	}
}

// flush collects the Ready of every dirty group and hands its parts on,
// one submission per stage.
func (w *worker) flush() error {
	for _, gs := range w.dirty {
		gs.dirty = false
		if gs.removed {
			continue
		}
		w.startReads(gs)
		w.collect(gs)
		if len(gs.rounds) == 0 && len(gs.newReads) > 0 {
			// The Ready answered the round in flight: the reads that waited
			// for it go now rather than at the next drain.
			w.startReads(gs)
			w.collect(gs)
		}
		w.publish(gs)
	}
	clear(w.dirty)
	w.dirty = w.dirty[:0]
	ctx := w.e.ctx
	var err error
	if len(w.msgs) > 0 {
		err = errors.Join(err, w.e.replicate.Submit(ctx, w.msgs))
	}
	if len(w.persists) > 0 {
		err = errors.Join(err, w.e.fsync.Submit(ctx, w.persists...))
	}
	if len(w.applies) > 0 {
		err = errors.Join(err, w.e.apply.Submit(ctx, w.applies))
	}
	clear(w.msgs)
	clear(w.persists)
	clear(w.applies)
	w.msgs, w.persists, w.applies = w.msgs[:0], w.persists[:0], w.applies[:0]
	if err != nil && w.e.ctx.Err() == nil {
		return fmt.Errorf("stages: worker %d: %w", w.id, err)
	}
	return nil
}

// collect takes gs's Ready, if it has one, and queues its parts for the
// stages.
func (w *worker) collect(gs *groupState) {
	if !gs.core.HasReady() {
		return
	}
	rd := gs.core.Ready()
	for _, m := range rd.Messages { // copied: Ready reuses the array
		if m.Type == consensus.MsgSnap { // it travels as a stream of its own
			w.e.bg.Add(1)
			go func() {
				defer w.e.bg.Done()
				w.e.sendSnapshot(gs.id, m)
			}()
			continue
		}
		w.msgs = append(w.msgs, transport.Msg{Group: gs.id, Message: m})
	}
	if rd.PersistSeq != 0 {
		w.persists = append(w.persists, PersistRequest{
			Group: gs.id, Gen: gs.gen, Worker: w.id, Seq: rd.PersistSeq,
			Snapshot: rd.Snapshot, Entries: rd.Entries, HardState: rd.HardState,
		})
	}
	if rd.Snapshot != nil {
		w.applies = append(w.applies, w.installTask(gs, rd.Snapshot.Index))
	}
	if len(rd.Committed) > 0 {
		w.applies = append(w.applies, w.applyTask(gs, rd.Committed))
	}
	if len(rd.ReadStates) > 0 {
		w.finishReads(gs, rd.ReadStates)
	}
}

// installTask has the apply stage load a received snapshot into gs's
// state machine before any later entry; the worker then tells the core.
func (w *worker) installTask(gs *groupState, index uint64) ApplyTask {
	t := ApplyTask{Group: gs.id, SM: gs.sm, Installed: func(group, index uint64) {
		gs.h.advanceApplied(index)
		w.snapshotInstalled(group, index)
	}}
	if v, ok := w.e.installs.LoadAndDelete([2]uint64{gs.id, index}); ok {
		info := v.(installInfo)
		t.Install = &info
	} else {
		// The core hands out only snapshots stepped with their data
		// (ReceiveSnapshot): one without is a broken invariant.
		w.e.fail(fmt.Errorf("stages: group %d: snapshot %d to install, but its files did not arrive", gs.id, index))
	}
	return t
}

// applyTask pairs committed entries with the callers waiting on them. A
// caller whose index was committed with another term lost its entry to a
// new leader: its proposal is dropped.
func (w *worker) applyTask(gs *groupState, committed []consensus.Entry) ApplyTask {
	h := gs.h
	t := ApplyTask{Group: gs.id, SM: gs.sm, Entries: committed, Applied: func(group, index uint64) {
		h.advanceApplied(index)
		w.appliedTo(group, index)
	}}
	for i, e := range committed {
		for len(gs.pending) > 0 && gs.pending[0].index <= e.Index {
			p := gs.pending[0]
			gs.pending = gs.pending[1:]
			if p.index == e.Index && p.term == e.Term {
				if t.Dones == nil {
					t.Dones = make([]*Completion, len(committed))
				}
				t.Dones[i] = p.done
				continue
			}
			w.e.cons.refused[refusedDropped].Add(1)
			p.done.Complete(nil, fmt.Errorf("%w: group %d index %d went to another leader's entry", ErrProposalDropped, gs.id, p.index))
		}
	}
	return t
}

// publish makes the group's state readable by every goroutine.
func (w *worker) publish(gs *groupState) {
	st := gs.core.Status()
	w.e.cons.observe(gs, st)
	gs.h.role.Store(uint32(st.Role))
	gs.h.term.Store(st.Term)
	gs.h.leader.Store(st.Leader)
	gs.h.commit.Store(st.Commit)
	gs.h.leaseUntil.Store(w.leaseDeadline(gs, st))
}

// failPending completes every waiting proposal and read with err; the
// worker has stopped.
func (w *worker) failPending(err error) {
	for _, gs := range w.groups {
		w.failGroup(gs, err)
	}
}

func (w *worker) failGroup(gs *groupState, err error) {
	for _, p := range gs.pending {
		p.done.Complete(nil, err)
	}
	gs.pending = nil
	for _, r := range gs.newReads {
		r.complete(0, err)
	}
	gs.newReads = nil
	for _, rr := range gs.rounds {
		for _, r := range rr.waiters {
			r.complete(0, err)
		}
	}
	gs.rounds = nil
}
