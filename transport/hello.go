package transport

import (
	"encoding/binary"
	"fmt"
)

// connKind says what a connection carries; the dialer names it in its
// hello.
type connKind uint8

const (
	connRaft     connKind = 1 // the multiplexed Raft messages of every group
	connSnapshot connKind = 2 // one snapshot stream
	connCall     connKind = 3 // the calls of one node to another, and their responses
)

func (k connKind) String() string {
	switch k {
	case connRaft:
		return "raft"
	case connSnapshot:
		return "snapshot"
	case connCall:
		return "call"
	}
	return fmt.Sprintf("connKind(%d)", uint8(k))
}

func (k connKind) valid() bool { return k == connRaft || k == connSnapshot || k == connCall }

// hello is the first frame in each direction: who speaks, whom it means
// to reach, in which cluster and protocol version. The acceptor answers
// with its own hello (from and to swapped), or with a reject frame naming
// the reason, and closes.
type hello struct {
	version uint64
	cluster uint64
	from    uint64
	to      uint64
	kind    connKind
}

func appendHello(buf []byte, h hello) []byte {
	buf = binary.AppendUvarint(buf, h.version)
	buf = binary.AppendUvarint(buf, h.cluster)
	buf = binary.AppendUvarint(buf, h.from)
	buf = binary.AppendUvarint(buf, h.to)
	return append(buf, byte(h.kind))
}

func decodeHello(p []byte) (hello, error) {
	d := decoder{b: p, ctx: "hello frame"}
	h := hello{
		version: d.uvarint("version"),
		cluster: d.uvarint("cluster ID"),
		from:    d.uvarint("sender"),
		to:      d.uvarint("receiver"),
		kind:    connKind(d.byte("connection kind")),
	}
	if d.err == nil && d.remaining() != 0 {
		d.fail("%d trailing bytes", d.remaining())
	}
	if d.err == nil && !h.kind.valid() {
		d.fail("unknown connection kind %d", uint8(h.kind))
	}
	if d.err == nil && (h.from == 0 || h.to == 0) {
		d.fail("node ID 0")
	}
	return h, d.err
}

// rejectReasonMax bounds the reason a reject frame carries.
const rejectReasonMax = 512

func appendReject(buf []byte, kind ErrorKind, reason string) []byte {
	if len(reason) > rejectReasonMax {
		reason = reason[:rejectReasonMax]
	}
	buf = append(buf, byte(kind))
	buf = binary.AppendUvarint(buf, uint64(len(reason)))
	return append(buf, reason...)
}

// decodeReject turns a reject frame into the error the dialer returns: it
// wraps ErrRejected and carries the acceptor's kind and reason.
func decodeReject(p []byte) error {
	d := decoder{b: p, ctx: "reject frame"}
	kind := ErrorKind(d.byte("kind"))
	reason := d.bytes(d.uvarint("reason length"), "reason")
	if d.err == nil && d.remaining() != 0 {
		d.fail("%d trailing bytes", d.remaining())
	}
	if d.err != nil {
		return d.err
	}
	return fmt.Errorf("%w (%s): %q", ErrRejected, kind, reason)
}

// check returns why the acceptor (self) must refuse h, or nil.
func (h hello) check(cluster, self uint64) error {
	switch {
	case h.version != ProtocolVersion:
		return fmt.Errorf("%w: peer speaks version %d, this node %d", ErrVersionMismatch, h.version, ProtocolVersion)
	case h.cluster != cluster:
		return fmt.Errorf("%w: node %d is in cluster %d, this node in %d", ErrClusterMismatch, h.from, h.cluster, cluster)
	case h.to != self:
		return fmt.Errorf("%w: node %d dialed node %d but reached node %d", ErrWrongNode, h.from, h.to, self)
	case h.from == self:
		return fmt.Errorf("%w: node %d dialed itself", ErrWrongNode, self)
	}
	return nil
}
