package transport

import "sync/atomic"

// Stats are the transport's counters since it started, for the metrics
// layer to export. Messages per frame is MessagesSent/FramesSent;
// messages per write syscall is MessagesSent/Writes.
type Stats struct {
	BytesSent, BytesReceived       uint64
	FramesSent, FramesReceived     uint64
	MessagesSent, MessagesReceived uint64
	// Writes counts write syscalls on Raft connections (one per drain).
	Writes uint64
	// HeartbeatFramesSent counts coalesced heartbeat and response frames;
	// HeartbeatsSent the tuples they carried.
	HeartbeatFramesSent, HeartbeatsSent         uint64
	HeartbeatFramesReceived, HeartbeatsReceived uint64
	// MessagesDropped counts messages not sent: their peer was down or
	// unknown, its queue was full, or they could not be encoded.
	MessagesDropped uint64
	// DroppedWrongNode counts received messages addressed to another node.
	DroppedWrongNode uint64
	// Connects counts Raft connections established by this node;
	// DialFailures the attempts that failed (each is also an error below).
	Connects, DialFailures uint64
	// Accepted counts inbound connections that passed the handshake.
	Accepted uint64
	// Errors counts failures by kind; index it with an ErrorKind.
	Errors [numErrorKinds]uint64

	SnapshotsSent, SnapshotsFailed, SnapshotsReceived uint64
	SnapshotBytesSent, SnapshotBytesReceived          uint64
	// SnapshotResumes counts streams that resumed past offset zero.
	SnapshotResumes uint64

	// Calls (Transport.Call), as the caller: CallsSent counts requests
	// sent; CallsFailed the calls that returned an error, whatever the
	// cause (unreachable, busy, the handler's error, a payload too large,
	// the caller's context); CallsLate the responses that came after
	// their caller gave up, dropped.
	CallsSent, CallsFailed, CallsLate uint64
	// As the callee: CallsServed counts requests the CallHandler answered,
	// CallsBusy those refused unserved because the peer already had
	// CallsServedMax calls being served.
	CallsServed, CallsBusy uint64
	// CallBytesSent and CallBytesReceived count the request and response
	// bytes (and error texts) of calls, both roles, without the frames'
	// own bytes; call connections count in no other byte or frame counter.
	CallBytesSent, CallBytesReceived uint64
}

type counters struct {
	bytesSent, bytesReceived                    atomic.Uint64
	framesSent, framesReceived                  atomic.Uint64
	messagesSent, messagesReceived              atomic.Uint64
	writes                                      atomic.Uint64
	heartbeatFramesSent, heartbeatsSent         atomic.Uint64
	heartbeatFramesReceived, heartbeatsReceived atomic.Uint64
	messagesDropped, droppedWrongNode           atomic.Uint64
	connects, dialFailures, accepted            atomic.Uint64
	errors                                      [numErrorKinds]atomic.Uint64

	snapshotsSent, snapshotsFailed, snapshotsReceived atomic.Uint64
	snapshotBytesSent, snapshotBytesReceived          atomic.Uint64
	snapshotResumes                                   atomic.Uint64

	callsSent, callsFailed, callsLate atomic.Uint64
	callsServed, callsBusy            atomic.Uint64
	callBytesSent, callBytesReceived  atomic.Uint64
}

func (c *counters) snapshot() Stats {
	s := Stats{
		BytesSent: c.bytesSent.Load(), BytesReceived: c.bytesReceived.Load(),
		FramesSent: c.framesSent.Load(), FramesReceived: c.framesReceived.Load(),
		MessagesSent: c.messagesSent.Load(), MessagesReceived: c.messagesReceived.Load(),
		Writes:              c.writes.Load(),
		HeartbeatFramesSent: c.heartbeatFramesSent.Load(), HeartbeatsSent: c.heartbeatsSent.Load(),
		HeartbeatFramesReceived: c.heartbeatFramesReceived.Load(), HeartbeatsReceived: c.heartbeatsReceived.Load(),
		MessagesDropped: c.messagesDropped.Load(), DroppedWrongNode: c.droppedWrongNode.Load(),
		Connects: c.connects.Load(), DialFailures: c.dialFailures.Load(), Accepted: c.accepted.Load(),
		SnapshotsSent: c.snapshotsSent.Load(), SnapshotsFailed: c.snapshotsFailed.Load(),
		SnapshotsReceived: c.snapshotsReceived.Load(),
		SnapshotBytesSent: c.snapshotBytesSent.Load(), SnapshotBytesReceived: c.snapshotBytesReceived.Load(),
		SnapshotResumes: c.snapshotResumes.Load(),
		CallsSent:       c.callsSent.Load(), CallsFailed: c.callsFailed.Load(), CallsLate: c.callsLate.Load(),
		CallsServed: c.callsServed.Load(), CallsBusy: c.callsBusy.Load(),
		CallBytesSent: c.callBytesSent.Load(), CallBytesReceived: c.callBytesReceived.Load(),
	}
	for k := range s.Errors {
		s.Errors[k] = c.errors[k].Load()
	}
	return s
}
