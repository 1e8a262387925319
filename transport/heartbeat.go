package transport

import (
	"encoding/binary"

	"github.com/raftpipe/raftpipe/consensus"
)

// Coalesced heartbeats. A leader of many groups sends every follower node
// one heartbeat per group per tick, and every one carries only (term,
// commit, round). Sent as messages they would cost a frame header, a type
// and a field set each; the writer instead gathers all the heartbeats of
// one drain into one frame of tuples, and the responses into another:
//
//	heartbeats:          from, to, then (group, term, commit, round)...
//	heartbeat responses: from, to, then (group, term, round)...
//
// all uvarints. Step workers publish a tick's heartbeats for a peer in one
// batch, so one drain sees them all and the number of heartbeat frames per
// tick follows the number of workers, not of groups. A heartbeat with any
// other field set (none today) travels as an ordinary message, so
// coalescing never loses a field.

// isCoalescibleHeartbeat reports whether m is fully described by a
// heartbeat tuple.
func isCoalescibleHeartbeat(m *Msg) bool {
	return m.Type == consensus.MsgHeartbeat && onlyTupleFields(m)
}

// isCoalescibleHeartbeatResp reports whether m is fully described by a
// heartbeat response tuple.
func isCoalescibleHeartbeatResp(m *Msg) bool {
	return m.Type == consensus.MsgHeartbeatResp && onlyTupleFields(m) && m.Commit == 0
}

// onlyTupleFields reports whether m has no field beyond those a tuple carries
// (group, term, commit, round; From and To travel per frame).
func onlyTupleFields(m *Msg) bool {
	return m.LogTerm == 0 && m.Index == 0 && m.RejectHint == 0 && m.Context == 0 &&
		!m.Reject && !m.Force && len(m.Entries) == 0 && m.Snapshot == nil
}

func appendHeartbeat(buf []byte, m *Msg) []byte {
	buf = binary.AppendUvarint(buf, m.Group)
	buf = binary.AppendUvarint(buf, m.Term)
	buf = binary.AppendUvarint(buf, m.Commit)
	return binary.AppendUvarint(buf, m.Round)
}

func appendHeartbeatResp(buf []byte, m *Msg) []byte {
	buf = binary.AppendUvarint(buf, m.Group)
	buf = binary.AppendUvarint(buf, m.Term)
	return binary.AppendUvarint(buf, m.Round)
}

// decodeHeartbeats decodes a heartbeats or heartbeat responses payload
// (resp says which), appending the messages to dst.
func decodeHeartbeats(payload []byte, resp bool, dst []Msg) (msgs []Msg, from, to uint64, err error) {
	d := decoder{b: payload, ctx: "heartbeats frame"}
	typ := consensus.MsgHeartbeat
	if resp {
		d.ctx, typ = "heartbeat responses frame", consensus.MsgHeartbeatResp
	}
	from = d.uvarint("sender")
	to = d.uvarint("receiver")
	for d.err == nil && d.remaining() > 0 {
		m := Msg{Group: d.uvarint("group")}
		m.Type, m.From, m.To = typ, from, to
		m.Term = d.uvarint("term")
		if !resp {
			m.Commit = d.uvarint("commit")
		}
		m.Round = d.uvarint("round")
		if d.err == nil {
			dst = append(dst, m)
		}
	}
	return dst, from, to, d.err
}
