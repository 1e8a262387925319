package consensus

import "fmt"

// EntryType says how the apply stage treats an entry.
type EntryType uint8

const (
	// EntryNormal carries a command for the state machine.
	EntryNormal EntryType = iota
	// EntryNoop is the empty entry a new leader appends in its term, so
	// that it can commit (and serve reads) without waiting for a client.
	EntryNoop
	// EntryMembership carries an encoded MembershipChange.
	EntryMembership
)

func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "normal"
	case EntryNoop:
		return "noop"
	case EntryMembership:
		return "membership"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Entry is one record of the replicated log.
type Entry struct {
	Term  uint64
	Index uint64
	Type  EntryType
	Data  []byte
}

// entryOverhead is what an entry costs beside its data, in the byte limits
// of messages and of uncommitted proposals: a rough encoded size, so that a
// flood of empty entries is bounded too.
const entryOverhead = 24

func (e *Entry) size() uint64 { return uint64(len(e.Data)) + entryOverhead }

// HardState is what must be on disk before a node speaks: the term it is
// in, whom it voted for in that term, and how far it knows the log to be
// committed.
type HardState struct {
	Term   uint64
	Vote   uint64
	Commit uint64
}

// SnapshotMeta describes a snapshot: the state machine as of Index, whose
// entry had Term, with the membership in force at Index. The data travels
// beside it, through the transport's snapshot streams.
type SnapshotMeta struct {
	Index      uint64
	Term       uint64
	Membership Membership
}

// IsZero reports whether m describes no snapshot.
func (m SnapshotMeta) IsZero() bool { return m.Index == 0 }

// ReadState says that a read with Context may be served once the state
// machine has applied Index; or, when Dropped, that the read lost its
// leader before it could be confirmed and should be retried.
type ReadState struct {
	Index   uint64
	Context uint64
	Dropped bool
}

// Role is what a node currently is in its group.
type Role uint8

const (
	Follower Role = iota
	PreCandidate
	Candidate
	Leader
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "follower"
	case PreCandidate:
		return "pre-candidate"
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Status is a snapshot of a Core's state, cheap enough to take after every
// step: it allocates nothing.
type Status struct {
	ID      uint64
	Role    Role
	Term    uint64
	Vote    uint64
	Leader  uint64 // 0 when none is known
	Commit  uint64
	Applied uint64
	// Now is the Core's tick count. LeaseExpiry is the tick before which a
	// leader may serve reads from its own state without a ReadIndex round;
	// a lease is held while Now < LeaseExpiry.
	Now         uint64
	LeaseExpiry uint64
	// Transferee is the target of a leader transfer under way, or 0.
	Transferee uint64
}

// LeaseValid reports whether the leader's lease covers the current tick.
func (s Status) LeaseValid() bool { return s.Role == Leader && s.Now < s.LeaseExpiry }
