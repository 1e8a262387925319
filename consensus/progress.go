package consensus

import "fmt"

// progressState is how the leader replicates to one peer.
type progressState uint8

const (
	// probe: the leader does not know where the peer's log matches; it
	// sends one append per heartbeat interval and waits for the answer.
	probe progressState = iota
	// replicate: the logs match up to match; the leader streams appends,
	// advancing next as it sends (pipelining), within the inflight window.
	replicate
	// snapshot: the peer needs entries the leader no longer keeps; it is
	// receiving snapshot pendingSnapshot and is sent nothing else.
	snapshot
)

func (s progressState) String() string {
	return [...]string{"probe", "replicate", "snapshot"}[s]
}

// progress is the leader's view of one member, itself included.
type progress struct {
	id    uint64
	match uint64 // highest index known to be on the peer's disk
	next  uint64 // next index to send. Invariant: match < next.
	state progressState
	// probeSent pauses a probe until the next heartbeat response or
	// append response.
	probeSent       bool
	pendingSnapshot uint64
	inflight        inflights // appends sent in replicate state
	// recentActive records contact since the last check-quorum.
	recentActive bool
	// ackedRound is the newest heartbeat round the peer acknowledged, and
	// ackedTick the start tick of the newest acknowledged round still known.
	ackedRound uint64
	ackedTick  uint64
	learner    bool
}

func (p *progress) String() string {
	return fmt.Sprintf("%d:%s match=%d next=%d inflight=%d", p.id, p.state, p.match, p.next, p.inflight.count)
}

func (p *progress) becomeProbe() {
	if p.state == snapshot {
		// The peer got (or will get) the snapshot: resume after it.
		p.next = max(p.match+1, p.pendingSnapshot+1)
	} else {
		p.next = p.match + 1
	}
	p.state, p.probeSent, p.pendingSnapshot = probe, false, 0
	p.inflight.reset()
}

func (p *progress) becomeReplicate() {
	p.state, p.probeSent, p.pendingSnapshot = replicate, false, 0
	p.next = p.match + 1
	p.inflight.reset()
}

func (p *progress) becomeSnapshot(index uint64) {
	p.state, p.probeSent, p.pendingSnapshot = snapshot, false, index
	p.inflight.reset()
}

// maybeUpdate records that the peer's log matches up to n.
func (p *progress) maybeUpdate(n uint64) bool {
	updated := n > p.match
	if updated {
		p.match = n
		p.probeSent = false
	}
	p.next = max(p.next, n+1)
	return updated
}

// sentEntries advances next past an append of entries ending at last.
func (p *progress) sentEntries(last, bytes uint64, count int) {
	switch p.state {
	case replicate:
		if count > 0 {
			p.next = last + 1
			p.inflight.add(last, bytes)
		}
	case probe:
		p.probeSent = true
	}
}

// maybeDecrTo handles a rejection of the append after rejected; hint is
// where the peer suggests probing next. It reports whether next moved.
func (p *progress) maybeDecrTo(rejected, hint uint64) bool {
	if p.state == replicate {
		// Only a rejection of something not yet matched says anything; an
		// older one is a stale duplicate.
		if rejected <= p.match {
			return false
		}
		p.next = p.match + 1
		return true
	}
	// In probe, only the rejection of the probe just sent counts.
	if p.next-1 != rejected {
		return false
	}
	p.next = max(min(rejected, hint+1), p.match+1)
	p.probeSent = false
	return true
}

// paused reports whether nothing more may be sent to the peer now.
func (p *progress) paused() bool {
	switch p.state {
	case probe:
		return p.probeSent
	case replicate:
		return p.inflight.full()
	default:
		return true
	}
}
