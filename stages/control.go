package stages

import (
	"context"
	"errors"
	"fmt"

	"github.com/raftpipe/raftpipe/consensus"
)

// groupCall is a rare operation on one group (membership, transfer, stop)
// run on the worker that owns it, between drains of proposals and
// messages.
type groupCall struct {
	fn   func(w *worker, gs *groupState) error
	done chan error
}

// call runs fn on group's worker and returns its error.
func (e *Engine) call(ctx context.Context, group uint64, fn func(w *worker, gs *groupState) error) error {
	h, err := e.handle(group)
	if err != nil {
		return err
	}
	c := &groupCall{fn: fn, done: make(chan error, 1)}
	if err := e.workers[h.worker].ring.Publish(ctx, workerEvent{kind: evCall, group: group, call: c}); err != nil {
		return e.waitErr(ctx, err)
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return e.waitErr(ctx, ctx.Err())
	case <-e.ctx.Done():
		return ErrStopped
	}
}

// ChangeMembership proposes change to group and returns once the change is
// applied here, which is when it is in force on this node.
func (e *Engine) ChangeMembership(ctx context.Context, group uint64, change consensus.MembershipChange) error {
	done := NewCompletion()
	err := e.call(ctx, group, func(w *worker, gs *groupState) error {
		index, err := gs.core.ProposeMembership(change)
		if err != nil {
			return w.coreErr(gs, err)
		}
		gs.pending = append(gs.pending, pendingProposal{index: index, term: gs.core.Status().Term, done: done})
		w.markDirty(gs)
		return nil
	})
	if err != nil {
		return err
	}
	o, err := done.Wait(ctx)
	if err != nil {
		return e.waitErr(ctx, err)
	}
	return o.Err
}

// TransferLeader asks group's leader, which must be this node, to hand its
// leadership to voter to. It returns once the transfer has started; the
// group's Status shows the new leader when it is done, and a transfer that
// does not finish within an election timeout is abandoned.
func (e *Engine) TransferLeader(ctx context.Context, group, to uint64) error {
	return e.call(ctx, group, func(w *worker, gs *groupState) error {
		if err := gs.core.TransferLeadership(to); err != nil {
			return w.coreErr(gs, err)
		}
		w.markDirty(gs)
		return nil
	})
}

// StopGroup stops group on this host: its callers fail with ErrStopped,
// and once StopGroup returns the stages never touch its state machine
// again. Its log stays in the store, so the group can be started again.
func (e *Engine) StopGroup(ctx context.Context, group uint64) error {
	h, err := e.handle(group)
	if err != nil {
		return err
	}
	if err := e.call(ctx, group, func(w *worker, gs *groupState) error { w.stopGroup(gs); return nil }); err != nil {
		return err
	}
	e.groups.Delete(group)
	// The fsync stage forgets the group's hard state (groups come and go
	// with region splits; its memory must not grow with them). Entries
	// handed to the apply stage before the stop may still be on their way
	// to the state machine; a barrier behind them says when they are done.
	forgotten := make(chan struct{})
	if err := e.fsync.Submit(ctx, PersistRequest{Group: group, Forgotten: forgotten}); err != nil {
		return e.waitErr(ctx, err)
	}
	barrier := make(chan struct{})
	if err := e.apply.Submit(ctx, []ApplyTask{{Group: group, SM: h.sm, Barrier: barrier}}); err != nil {
		return e.waitErr(ctx, err)
	}
	for _, done := range []chan struct{}{forgotten, barrier} {
		select {
		case <-done:
		case <-ctx.Done():
			return e.waitErr(ctx, ctx.Err())
		case <-e.ctx.Done():
			return ErrStopped
		}
	}
	return nil
}

func (w *worker) stopGroup(gs *groupState) {
	err := fmt.Errorf("%w: group %d was stopped", ErrStopped, gs.id)
	w.failGroup(gs, err)
	delete(w.groups, gs.id)
	gs.removed = true // flush skips it if it is in this drain's dirty list
	close(gs.h.stopped)
}

// coreErr turns a consensus refusal into the error a caller sees.
func (w *worker) coreErr(gs *groupState, err error) error {
	switch {
	case errors.Is(err, consensus.ErrNotLeader), errors.Is(err, consensus.ErrTransferring):
		return &NotLeaderError{Group: gs.id, Leader: gs.core.Status().Leader}
	case errors.Is(err, consensus.ErrMembershipPending), errors.Is(err, consensus.ErrUncommittedFull):
		return fmt.Errorf("%w: group %d: %w", ErrBusy, gs.id, err)
	}
	return fmt.Errorf("stages: group %d: %w", gs.id, err)
}

// Unreachable tells the leaders of this host that node could not be
// reached, so they stop streaming appends into the void and probe.
func (e *Engine) Unreachable(node uint64) {
	for _, w := range e.workers {
		w.report(func(gs *groupState) { gs.core.ReportUnreachable(node) })
	}
}

// SnapshotStatus tells group's leader how sending a snapshot to node
// ended.
func (e *Engine) SnapshotStatus(group, node uint64, ok bool) {
	e.closeOutgoing(group, node)
	if ok {
		e.snaps.sent.Add(1)
	} else {
		e.snaps.sendFailures.Add(1)
	}
	h, err := e.handle(group)
	if err != nil {
		return
	}
	e.workers[h.worker].reportGroup(group, func(gs *groupState) { gs.core.ReportSnapshot(node, ok) })
}

// Snapshot takes a snapshot of group now, after everything applied so
// far, whatever the policy's triggers say, and compacts the log behind it
// as the policy would; it returns the snapshot's index once written.
func (e *Engine) Snapshot(ctx context.Context, group uint64) (uint64, error) {
	if e.snapshots == nil {
		return 0, ErrNoSnapshots
	}
	h, err := e.handle(group)
	if err != nil {
		return 0, err
	}
	reply := make(chan SnapshotOutcome, 1)
	if err := e.apply.Submit(ctx, []ApplyTask{{Group: group, SM: h.sm, SnapshotNow: reply}}); err != nil {
		return 0, e.waitErr(ctx, err)
	}
	select {
	case o := <-reply:
		if o.Err == nil && o.Index == 0 {
			return 0, fmt.Errorf("stages: group %d has applied nothing to take a snapshot of", group)
		}
		return o.Index, o.Err
	case <-ctx.Done():
		return 0, e.waitErr(ctx, ctx.Err())
	case <-e.ctx.Done():
		return 0, ErrStopped
	}
}
