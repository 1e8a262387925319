package consensus

import "fmt"

// MessageType names a Raft message.
type MessageType uint8

const (
	// MsgApp carries entries after (LogTerm, Index), or none, and the
	// leader's commit index. Round is the leader's heartbeat round when it
	// was sent.
	MsgApp MessageType = iota + 1
	// MsgAppResp acknowledges an append once the entries are durable:
	// Index is the follower's last index matching the leader. A rejection
	// names the rejected Index and a hint (RejectHint, LogTerm) that lets
	// the leader skip back a whole term per round trip.
	MsgAppResp
	// MsgHeartbeat carries only (Term, Commit, Round), so the transport can
	// coalesce the heartbeats of many groups into one frame.
	MsgHeartbeat
	// MsgHeartbeatResp echoes Round.
	MsgHeartbeatResp
	// MsgPreVote asks whether a campaign for Term could win, without
	// anyone changing term (Raft thesis §9.6).
	MsgPreVote
	MsgPreVoteResp
	// MsgVote asks for a vote in Term for a log ending at (LogTerm, Index).
	// Force is set when the leader transferred its leadership, so voters
	// grant it even while they still hear from that leader.
	MsgVote
	MsgVoteResp
	// MsgSnap tells a follower to install Snapshot; the transport has the
	// data by the time the message is stepped.
	MsgSnap
	// MsgReadIndex asks the leader for a read index on behalf of a
	// follower's read with Context.
	MsgReadIndex
	// MsgReadIndexResp answers with Index, or Reject when the leader could
	// not confirm its leadership.
	MsgReadIndexResp
	// MsgTimeoutNow tells a caught-up follower to campaign at once: the
	// last step of a leader transfer.
	MsgTimeoutNow
)

var messageTypeNames = [...]string{
	MsgApp:           "MsgApp",
	MsgAppResp:       "MsgAppResp",
	MsgHeartbeat:     "MsgHeartbeat",
	MsgHeartbeatResp: "MsgHeartbeatResp",
	MsgPreVote:       "MsgPreVote",
	MsgPreVoteResp:   "MsgPreVoteResp",
	MsgVote:          "MsgVote",
	MsgVoteResp:      "MsgVoteResp",
	MsgSnap:          "MsgSnap",
	MsgReadIndex:     "MsgReadIndex",
	MsgReadIndexResp: "MsgReadIndexResp",
	MsgTimeoutNow:    "MsgTimeoutNow",
}

func (t MessageType) String() string {
	if int(t) < len(messageTypeNames) && messageTypeNames[t] != "" {
		return messageTypeNames[t]
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Valid reports whether t is a known message type; decoders use it.
func (t MessageType) Valid() bool {
	return int(t) < len(messageTypeNames) && messageTypeNames[t] != ""
}

// Message is what nodes of a group send each other. Which fields count
// depends on Type; the transport tags it with the group.
type Message struct {
	Type MessageType
	To   uint64
	From uint64
	Term uint64
	// LogTerm and Index locate the entry before Entries in MsgApp, the
	// candidate's last entry in votes, and the hint's term in a rejected
	// MsgAppResp.
	LogTerm    uint64
	Index      uint64
	Commit     uint64
	Entries    []Entry
	Reject     bool
	RejectHint uint64
	// Round is the leader's heartbeat round, echoed by responses; leases
	// and ReadIndex count the rounds a quorum has acknowledged.
	Round uint64
	// Context is a read request's context, chosen by the caller.
	Context  uint64
	Force    bool
	Snapshot *SnapshotMeta
}

func (m Message) String() string {
	return fmt.Sprintf("%s %d->%d term=%d logterm=%d index=%d commit=%d entries=%d reject=%t hint=%d round=%d",
		m.Type, m.From, m.To, m.Term, m.LogTerm, m.Index, m.Commit, len(m.Entries), m.Reject, m.RejectHint, m.Round)
}
