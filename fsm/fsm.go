// Package fsm owns the contract between raftpipe and the state machines it
// replicates. The apply stage hands a group's state machine the committed
// entries of that group in batches, in index order, each exactly once, and
// reads look up the applied state beside it, never through the log.
//
// Applied is the heart of restart. A host starts a group's log after the
// machine's Applied, so:
//
//   - an in-memory machine (MemKV) starts at 0 and is rebuilt from the log
//     (or, once the log is compacted, from a snapshot);
//   - an on-disk machine persists its applied index atomically with the
//     data it covers, and reports on restart the index its durable state is
//     as of; the host replays only the log after it. An index older than
//     the log's snapshot means the machine lost state the log no longer
//     has: the host refuses to start it (stages.ErrStateBehindLog), never
//     silently skipping entries.
//
// A SharedStateMachine writes into a store it shares with the machines of
// other groups (kv's Pebble machines share one Pebble instance); the apply
// stage commits that store once per drain, before completing any caller.
//
// MemKV, an in-memory key/value machine, serves tests and benchmarks; the
// Pebble machine and its SST snapshots are in package kv.
package fsm

import "errors"

// Entry is one committed entry as a state machine sees it.
type Entry struct {
	Index uint64
	// Cmd is what a client proposed; nil for the entries Raft commits for
	// itself (a new leader's no-op, a membership change), which a machine
	// only counts as applied.
	Cmd []byte
	// Result is set by Update: what the proposer's Propose returns. It
	// must not alias Cmd's buffer, which the host may reuse.
	Result []byte
}

// StateMachine is the replicated state of one group.
//
// Update is called from one goroutine at a time, with entries in strictly
// increasing index order, each following the last one applied. An error
// from Update is fatal to the group: its host stops it rather than let
// replicas diverge, so a command that is merely invalid must produce a
// result saying so, not an error.
//
// Lookup may run concurrently with Update and with other Lookups, and
// sees every Update that returned before it was called.
type StateMachine interface {
	Update(entries []Entry) error
	Lookup(query []byte) ([]byte, error)
	// Applied is the index of the last entry applied; 0 for a new machine.
	Applied() uint64
	Close() error
}

// SharedStateMachine is a StateMachine whose Updates go into a store it
// shares with the machines of other groups on the host (the Pebble
// key/value machines of kv share one Pebble instance). Its Updates take
// effect, and become visible to Lookup and Applied, only when the store
// commits. The apply stage commits each store once per drain, after every
// Update of that drain and before it completes any caller: one write to
// the store for the committed entries of all groups.
type SharedStateMachine interface {
	StateMachine
	Store() Committer
}

// Committer is a store shared by several state machines. Commit makes the
// Updates since the last Commit take effect, all at once; an error is
// fatal, as Update's is.
type Committer interface {
	Commit() error
}

var (
	// ErrOutOfOrder is returned by Update for an entry that does not
	// follow the last one applied: a gap, or an entry applied twice.
	ErrOutOfOrder = errors.New("fsm: entry out of order")
	// ErrNotFound is returned by a lookup of a key that is not there.
	ErrNotFound = errors.New("fsm: not found")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("fsm: closed")
)
