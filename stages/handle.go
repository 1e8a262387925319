package stages

import (
	"sync"
	"sync/atomic"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
)

// groupHandle is what every goroutine may read of a group: published by
// its worker after each Ready, and by the apply stage after each Update.
type groupHandle struct {
	id      uint64
	worker  int
	sm      fsm.StateMachine
	stopped chan struct{} // closed when the group stops
	// startMembers is the membership the group was started with, in force
	// until the log's first snapshot or membership entry.
	startMembers consensus.Membership
	role         atomic.Uint32
	term         atomic.Uint64
	leader       atomic.Uint64
	commit       atomic.Uint64
	applied      atomic.Uint64
	// leaseUntil is the end of the leader's lease on the host's clock, in
	// nanoseconds since the engine started (Engine.sinceEpoch); 0 when it
	// holds none.
	leaseUntil atomic.Int64

	mu        sync.Mutex
	appliedCh chan struct{} // closed when applied next advances; nil if nobody waits
}

// appliedSignal returns a channel closed at the next advance of applied.
func (h *groupHandle) appliedSignal() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.appliedCh == nil {
		h.appliedCh = make(chan struct{})
	}
	return h.appliedCh
}

func (h *groupHandle) advanceApplied(index uint64) {
	h.applied.Store(index)
	h.mu.Lock()
	ch := h.appliedCh
	h.appliedCh = nil
	h.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}
