package stages

import (
	"context"
	"errors"
	"fmt"

	"github.com/raftpipe/raftpipe/ringbuf"
)

// The errors a caller of the pipeline sees. The root package re-exports
// them.
var (
	ErrGroupNotFound   = errors.New("raftpipe: group not found")
	ErrStopped         = errors.New("raftpipe: stopped")
	ErrProposalDropped = errors.New("raftpipe: proposal dropped")
	ErrBusy            = errors.New("raftpipe: busy")
	ErrGroupExists     = errors.New("raftpipe: group already started")
	// ErrNoLease refuses a lease-only read at a leader whose lease has
	// lapsed.
	ErrNoLease = errors.New("raftpipe: leader lease not held")
	// ErrTimeout matches every error of a caller whose context deadline
	// passed, beside context.DeadlineExceeded, and of a read round that
	// was never confirmed.
	ErrTimeout = errors.New("raftpipe: timeout")
	// ErrStateBehindLog refuses to start a group whose state machine
	// reports an applied index older than the log's snapshot: the entries
	// in between are gone, and so is the state they made.
	ErrStateBehindLog = errors.New("raftpipe: state machine is behind the log's snapshot")
	// ErrDiskStall fails a host whose log write has not finished within
	// its stall timeout: the disk hangs.
	ErrDiskStall = errors.New("raftpipe: log disk stalled")
	// ErrNotLeader matches every *NotLeaderError.
	ErrNotLeader = errors.New("raftpipe: not the leader")
)

// NotLeaderError refuses work only the group's leader can do; Leader is
// the leader this node knows of, 0 if none.
type NotLeaderError struct {
	Group, Leader uint64
}

func (e *NotLeaderError) Error() string {
	if e.Leader == 0 {
		return fmt.Sprintf("raftpipe: not the leader of group %d, and no leader is known", e.Group)
	}
	return fmt.Sprintf("raftpipe: not the leader of group %d; node %d is", e.Group, e.Leader)
}

// Is makes every NotLeaderError match ErrNotLeader.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// timeoutError is a caller's deadline passing: it matches both ErrTimeout
// and context.DeadlineExceeded.
type timeoutError struct{ what string }

func (e *timeoutError) Error() string { return "raftpipe: timeout: " + e.what }

func (e *timeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// waitErr turns why a wait ended into the error a caller sees: the
// engine's stop, a deadline, or the context's own error.
func (e *Engine) waitErr(ctx context.Context, err error) error {
	switch {
	case e.ctx.Err() != nil || errors.Is(err, ringbuf.ErrClosed):
		return ErrStopped
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &timeoutError{what: "the caller's deadline passed"}
	}
	return err
}

// ErrNoSnapshots refuses a snapshot on a host whose snapshot policy is off.
var ErrNoSnapshots = errors.New("stages: snapshots are turned off on this host")
