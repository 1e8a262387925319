package stages

import (
	"errors"
	"fmt"
)

// The errors a caller of the pipeline sees. The root package re-exports
// them.
var (
	ErrGroupNotFound   = errors.New("raftpipe: group not found")
	ErrStopped         = errors.New("raftpipe: stopped")
	ErrProposalDropped = errors.New("raftpipe: proposal dropped")
	ErrBusy            = errors.New("raftpipe: busy")
	ErrGroupExists     = errors.New("raftpipe: group already started")
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
