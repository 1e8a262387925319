package consensus

import "errors"

var (
	// ErrNotLeader refuses a request only a leader can take; the caller
	// finds the leader in Status().Leader.
	ErrNotLeader = errors.New("consensus: not the leader")
	// ErrNoLeader refuses a follower's read while no leader is known.
	ErrNoLeader = errors.New("consensus: no leader known")
	// ErrTransferring refuses proposals while a leader transfer is under way.
	ErrTransferring = errors.New("consensus: leader transfer in progress")
	// ErrUncommittedFull refuses proposals beyond Config.UncommittedBytesMax.
	// It is retryable: it clears as soon as entries commit.
	ErrUncommittedFull = errors.New("consensus: too many uncommitted bytes")
	// ErrMembershipPending refuses a membership change while another one is
	// not yet committed, or before the leader committed an entry of its
	// own term (the single-server change bug of the Raft thesis errata).
	ErrMembershipPending = errors.New("consensus: membership change pending")
	// ErrInvalidMembershipChange refuses a change that does not fit the
	// current membership.
	ErrInvalidMembershipChange = errors.New("consensus: invalid membership change")
	// ErrInvalidTransfer refuses a transfer to a node that cannot lead.
	ErrInvalidTransfer = errors.New("consensus: invalid leader transfer target")
	// ErrStaleAck reports an acknowledgement that does not match what was
	// handed out; the caller has a bug.
	ErrStaleAck = errors.New("consensus: acknowledgement does not match handed-out work")
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("consensus: invalid config")
	// ErrCorruptState reports storage whose state contradicts itself.
	ErrCorruptState = errors.New("consensus: corrupt persisted state")

	// ErrCompacted is returned by Storage for entries below its first index.
	ErrCompacted = errors.New("consensus: entries compacted")
	// ErrUnavailable is returned by Storage for entries beyond its last index.
	ErrUnavailable = errors.New("consensus: entries unavailable")
)

// ErrInvalidEntryType refuses a proposal whose entries are not
// EntryNormal; no-ops and membership changes come from the Core itself.
var ErrInvalidEntryType = errors.New("consensus: proposed entry is not a normal entry")
