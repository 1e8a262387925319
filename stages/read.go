package stages

import (
	"context"
	"fmt"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
)

// ReadMode says how a read proves that what it returns is fresh enough.
type ReadMode uint8

const (
	// Linearizable reads at the leader: through its lease while the lease
	// holds, else through a ReadIndex round.
	Linearizable ReadMode = iota
	// ReadIndexOnly reads at the leader through a ReadIndex round, never
	// trusting the lease (and so never trusting clocks).
	ReadIndexOnly
	// LeaseOnly reads at the leader through its lease, and fails with
	// ErrNoLease rather than start a round when the lease has lapsed.
	LeaseOnly
	// Follower reads on any member, leader or not: the read index comes
	// from the leader, and the value from the local state machine once it
	// has applied that far. Linearizable, without loading the leader's
	// state machine.
	Follower
	// Stale reads the local state machine as it is, with no guarantee of
	// freshness.
	Stale
	numReadModes = iota
)

func (m ReadMode) String() string {
	switch m {
	case Linearizable:
		return "linearizable"
	case ReadIndexOnly:
		return "read-index"
	case LeaseOnly:
		return "lease"
	case Follower:
		return "follower"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("ReadMode(%d)", uint8(m))
}

// readWaiter is one read waiting for its ReadIndex round.
type readWaiter struct{ ch chan readResult }

type readResult struct {
	index uint64
	err   error
}

func (r *readWaiter) complete(index uint64, err error) { r.ch <- readResult{index, err} }

// readRound is one consensus ReadIndex request shared by every read of a
// group that arrived in one drain of its worker.
type readRound struct {
	ctx     uint64 // the request's context, unique per worker
	tick    uint64 // the worker tick it was issued at
	waiters []*readWaiter
}

// Read answers query from group's state machine once the read is proven
// fresh as mode asks; see ReadMode.
func (e *Engine) Read(ctx context.Context, group uint64, query []byte, mode ReadMode) ([]byte, error) {
	h, err := e.handle(group)
	if err != nil {
		return nil, err
	}
	if mode < numReadModes {
		e.reads[mode].Add(1) // one add per read, as the lease counter below
	}
	if mode == Stale {
		return h.sm.Lookup(query)
	}
	var index uint64
	switch {
	case mode == Follower:
		if index, err = e.readIndex(ctx, h); err != nil {
			return nil, err
		}
	case mode == ReadIndexOnly || !e.leaseHeld(h):
		if mode == LeaseOnly {
			if consensus.Role(h.role.Load()) != consensus.Leader {
				return nil, &NotLeaderError{Group: group, Leader: h.leader.Load()}
			}
			return nil, fmt.Errorf("%w: group %d", ErrNoLease, group)
		}
		if consensus.Role(h.role.Load()) != consensus.Leader {
			return nil, &NotLeaderError{Group: group, Leader: h.leader.Load()}
		}
		if index, err = e.readIndex(ctx, h); err != nil {
			return nil, err
		}
	default:
		// The lease holds: no other leader can have committed anything
		// this one does not know of. Writes acknowledged before this read
		// began were committed at or below the commit index published now,
		// because a worker publishes a commit before handing its entries
		// to the apply stage.
		e.leaseReads.Add(1)
		index = h.commit.Load()
	}
	if err := e.waitApplied(ctx, h, index); err != nil {
		return nil, err
	}
	return h.sm.Lookup(query)
}

// leaseHeld reports whether h's lease covers the present on this host's
// clock.
func (e *Engine) leaseHeld(h *groupHandle) bool {
	until := h.leaseUntil.Load()
	return until != 0 && e.sinceEpoch(e.clock.Now()) < until
}

// sinceEpoch places t on the scale of leaseUntil: nanoseconds since the
// engine started, measured on the monotonic clock (time.Now's times carry
// its reading, and Sub uses it). Unix nanoseconds would follow the wall
// clock, and a wall clock stepped back (an NTP correction) would stretch
// the lease of a leader already deposed by the same amount.
func (e *Engine) sinceEpoch(t time.Time) int64 { return int64(t.Sub(e.epoch)) }

// readIndex runs the read through a ReadIndex round of its group's worker
// and returns the index the state machine must reach.
func (e *Engine) readIndex(ctx context.Context, h *groupHandle) (uint64, error) {
	r := &readWaiter{ch: make(chan readResult, 1)}
	if err := e.workers[h.worker].ring.Publish(ctx, workerEvent{kind: evRead, group: h.id, read: r}); err != nil {
		return 0, e.waitErr(ctx, err)
	}
	e.indexReads.Add(1)
	select {
	case res := <-r.ch:
		return res.index, res.err
	case <-ctx.Done():
		return 0, e.waitErr(ctx, ctx.Err())
	case <-e.ctx.Done():
		return 0, ErrStopped
	}
}

// waitApplied waits for h's state machine to apply index.
func (e *Engine) waitApplied(ctx context.Context, h *groupHandle, index uint64) error {
	for {
		if h.applied.Load() >= index {
			return nil
		}
		ch := h.appliedSignal()
		if h.applied.Load() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-h.stopped:
			return fmt.Errorf("%w: %d", ErrGroupNotFound, h.id)
		case <-ctx.Done():
			return e.waitErr(ctx, ctx.Err())
		case <-e.ctx.Done():
			return ErrStopped
		}
	}
}

// startReads issues one ReadIndex request for every read of gs that
// arrived since the last one, unless one is still in flight: reads that
// arrive during a round cannot use it (it may have been confirmed before
// they arrived), so they wait together for the next, and a group under
// read load has one round in flight at a time, whatever its read rate.
func (w *worker) startReads(gs *groupState) {
	if len(gs.newReads) == 0 || len(gs.rounds) > 0 {
		return
	}
	waiters := gs.newReads
	gs.newReads = nil
	w.e.readRounds.Add(1)
	w.readSeq++
	if err := gs.core.ReadIndex(w.readSeq); err != nil {
		err = &NotLeaderError{Group: gs.id, Leader: gs.core.Status().Leader}
		for _, r := range waiters {
			r.complete(0, err)
		}
		return
	}
	gs.rounds = append(gs.rounds, readRound{ctx: w.readSeq, tick: w.tickCount, waiters: waiters})
}

// finishReads completes the rounds a Ready's ReadStates answer.
func (w *worker) finishReads(gs *groupState, states []consensus.ReadState) {
	for _, rs := range states {
		for i, rr := range gs.rounds {
			if rr.ctx != rs.Context {
				continue
			}
			var err error
			if rs.Dropped {
				err = &NotLeaderError{Group: gs.id, Leader: gs.core.Status().Leader}
			}
			for _, r := range rr.waiters {
				r.complete(rs.Index, err)
			}
			gs.rounds = append(gs.rounds[:i], gs.rounds[i+1:]...)
			break
		}
	}
}

// expireReads fails rounds no answer came for: a follower's request or
// the leader's answer was lost, or the leader is cut off from a quorum.
// Callers have usually given up by then; this bounds what they leave.
func (w *worker) expireReads(gs *groupState, maxTicks uint64) {
	n := 0
	for _, rr := range gs.rounds {
		if w.tickCount-rr.tick <= maxTicks {
			gs.rounds[n] = rr
			n++
			continue
		}
		err := fmt.Errorf("%w: group %d read index not confirmed in %d ticks", ErrTimeout, gs.id, maxTicks)
		for _, r := range rr.waiters {
			r.complete(0, err)
		}
	}
	clear(gs.rounds[n:])
	gs.rounds = gs.rounds[:n]
}

// leaseDeadline turns a core's lease, counted in its ticks, into a time on
// this host's clock. A lease of ticks [t, t+L) becomes [T, T+L×interval),
// where T is when the worker handled tick t: every heartbeat round that
// started at tick t left after T, so followers heard it after T and will
// not elect anyone else for an election timeout of their ticks from then.
// Measured on the clock rather than in ticks, a worker that falls behind
// on its ticks cannot stretch its lease.
func (w *worker) leaseDeadline(gs *groupState, st consensus.Status) int64 {
	if st.Role != consensus.Leader || st.LeaseExpiry <= st.Now {
		return 0
	}
	span := uint64(w.e.electionTicks - w.e.leaseDriftTicks)
	if st.LeaseExpiry < span {
		return 0
	}
	start := min(st.LeaseExpiry-span, st.Now) // a lone voter's lease runs from now
	at, ok := w.tickTime(gs.tickBase + start)
	if !ok {
		return 0
	}
	return max(w.e.sinceEpoch(at.Add(time.Duration(span)*w.e.tickInterval)), 0) // 0: none
}

// tickTime returns when the worker handled tick t, if it still knows.
func (w *worker) tickTime(t uint64) (time.Time, bool) {
	if t > w.tickCount || w.tickCount-t >= uint64(len(w.tickTimes)) {
		return time.Time{}, false
	}
	return w.tickTimes[t%uint64(len(w.tickTimes))], true
}
