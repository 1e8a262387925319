package raftpipe

import (
	"github.com/raftpipe/raftpipe/stages"
	"github.com/raftpipe/raftpipe/transport"
)

// The errors a host's callers see; match them with errors.Is.
var (
	// ErrNotLeader refuses work only a group's leader can do. The error
	// is a *NotLeaderError naming the leader this host knows of.
	ErrNotLeader = stages.ErrNotLeader
	// ErrTimeout is a caller's deadline passing, or a read round that was
	// never confirmed; a deadline's error also matches
	// context.DeadlineExceeded. A write that timed out may still commit.
	ErrTimeout = stages.ErrTimeout
	// ErrGroupNotFound names a group this host does not run.
	ErrGroupNotFound = stages.ErrGroupNotFound
	// ErrGroupExists refuses to start a group twice.
	ErrGroupExists = stages.ErrGroupExists
	// ErrStopped fails what was waiting, or arrives, when the host or
	// the group stops.
	ErrStopped = stages.ErrStopped
	// ErrProposalDropped says a proposal lost its place in the log to a
	// new leader's entries: it was not applied, and may be retried.
	ErrProposalDropped = stages.ErrProposalDropped
	// ErrBusy is back-pressure: the group holds as much uncommitted work
	// as it may, or a membership change is already under way.
	ErrBusy = stages.ErrBusy
	// ErrNoLease refuses a lease-only read when the lease has lapsed.
	ErrNoLease = stages.ErrNoLease
	// ErrStateBehindLog refuses to start a group whose state machine has
	// applied less than the log's snapshot covers: its state is lost.
	ErrStateBehindLog = stages.ErrStateBehindLog
	// ErrDiskStall is a host's failure (Err) when a write to its log did
	// not finish within Config.DiskStallTimeout.
	ErrDiskStall = stages.ErrDiskStall

	// The errors of Forward.

	// ErrUnreachable fails a Forward whose node is unknown or unreachable,
	// or whose connection was lost while the request was in flight (the
	// node may then have served it).
	ErrUnreachable = transport.ErrUnreachable
	// ErrPeerBusy fails a Forward the node refused unserved: too many of
	// this host's requests in flight there, or no handler installed yet.
	ErrPeerBusy = transport.ErrPeerBusy
	// ErrNotSent marks a failed Forward whose request never left this
	// host: the node certainly did not serve it (ErrUnreachable alone may
	// also mean a connection lost with the request in flight).
	ErrNotSent = transport.ErrNotSent
	// ErrRemote fails a Forward whose handler on the node returned an
	// error; the error's text follows.
	ErrRemote = transport.ErrRemote
	// ErrRequestTooLarge refuses a Forward longer than ForwardBytesMax,
	// before anything is sent.
	ErrRequestTooLarge = transport.ErrFrameTooLarge
)

// NotLeaderError carries the leader hint of an ErrNotLeader.
type NotLeaderError = stages.NotLeaderError
