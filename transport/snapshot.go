package transport

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/raftpipe/raftpipe/consensus"
)

// Snapshot streams. A snapshot travels on a connection of its own, so a
// gigabyte of state never sits in front of a heartbeat: the Raft link of
// the same peer pair goes on as before. The stream is
//
//	sender                              receiver
//	hello (snapshot)            →
//	                            ←       hello
//	header: message, size, chunk →
//	                            ←       resume: offset (whole chunks it holds)
//	chunk: offset, crc32c, data →       verified, written, crc appended to a sidecar
//	...
//	end: crc32c of all data     →       verified, synced, renamed, handed on
//	                            ←       result: installed, or why not
//
// The receiver keeps a cut stream's file and its chunk checksums, so the
// next attempt, even after a restart of either side, resumes at the last
// chunk that verifies. The handler sees a snapshot only once every byte is
// on disk and both kinds of checksum agree.

// OutgoingSnapshot is a snapshot to stream to Message.To.
type OutgoingSnapshot struct {
	Group uint64
	// Message is the MsgSnap the receiver's consensus will step, with its
	// Snapshot metadata.
	Message consensus.Message
	// Data holds the snapshot's Size bytes; it must stay readable until
	// SnapshotStatus reports the outcome.
	Data io.ReaderAt
	Size int64
}

// ReceivedSnapshot is a snapshot that arrived whole and verified.
type ReceivedSnapshot struct {
	Group   uint64
	Message consensus.Message // the MsgSnap to step once the data is installed
	Path    string            // the file holding the data, now the handler's
	Size    int64
}

// snapshots owns the snapshot streams of a transport, both ways.
type snapshots struct {
	t       *Transport
	sendSem chan struct{} // a token per stream being sent
	queued  atomic.Int64  // sends waiting for or holding a token
	recvSem chan struct{}

	mu     sync.Mutex
	active map[streamKey]*link // the receiving link of each stream
}

func newSnapshots(t *Transport) *snapshots {
	return &snapshots{
		t:       t,
		sendSem: make(chan struct{}, t.cfg.SnapshotSendStreamsMax),
		recvSem: make(chan struct{}, t.cfg.SnapshotRecvStreamsMax),
		active:  map[streamKey]*link{},
	}
}

func (s *snapshots) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.active {
		l.close(ErrClosed)
	}
}

// streamKey names a stream: the same snapshot from the same node resumes
// the same file.
type streamKey struct {
	from, group, term, index uint64
	size                     int64
}

func (k streamKey) fileName() string {
	return fmt.Sprintf("snap-%d-%d-%d-%d-%d", k.from, k.group, k.term, k.index, k.size)
}

// The payloads of the snapshot frames.

func appendSnapHeader(buf []byte, s *OutgoingSnapshot, chunk int) ([]byte, error) {
	buf = binary.AppendUvarint(buf, uint64(s.Size))
	buf = binary.AppendUvarint(buf, uint64(chunk))
	return appendMessage(buf, &Msg{Group: s.Group, Message: s.Message})
}

func decodeSnapHeader(p []byte, from, to uint64) (size int64, chunk int, m Msg, err error) {
	d := decoder{b: p, ctx: "snapshot header"}
	sz := d.uvarint("size")
	ch := d.uvarint("chunk size")
	if d.err == nil && (sz > 1<<62 || ch == 0 || ch > MaxFrameBytesLimit) {
		d.fail("size %d or chunk size %d out of range", sz, ch)
	}
	d.message(&m, from, to)
	if d.err == nil && d.remaining() != 0 {
		d.fail("%d trailing bytes", d.remaining())
	}
	if d.err == nil && (m.Type != consensus.MsgSnap || m.Snapshot == nil || m.Snapshot.Index == 0) {
		d.fail("%s without snapshot metadata", m.Type)
	}
	return int64(sz), int(ch), m, d.err
}

func appendUvarintPayload(buf []byte, v uint64) []byte { return binary.AppendUvarint(buf, v) }

func decodeUvarintPayload(p []byte, what string) (uint64, error) {
	d := decoder{b: p, ctx: what}
	v := d.uvarint(what)
	if d.err == nil && d.remaining() != 0 {
		d.fail("%d trailing bytes", d.remaining())
	}
	return v, d.err
}

// A chunk is its offset (uvarint), the CRC32C of its data (4 bytes) and
// the data.
func appendChunkHeader(buf []byte, off int64, crc uint32) []byte {
	buf = binary.AppendUvarint(buf, uint64(off))
	return binary.LittleEndian.AppendUint32(buf, crc)
}

func decodeChunk(p []byte) (off int64, crc uint32, data []byte, err error) {
	d := decoder{b: p, ctx: "snapshot chunk"}
	o := d.uvarint("offset")
	c := d.bytes(4, "checksum")
	if d.err != nil {
		return 0, 0, nil, d.err
	}
	return int64(o), binary.LittleEndian.Uint32(c), p[d.off:], nil
}

// A result is what the receiver made of a stream: installed, busy (try
// again later) or refused (do not), and a reason.
type snapResult uint8

const (
	snapRefused snapResult = iota
	snapInstalled
	snapBusy
)

func appendResult(buf []byte, r snapResult, reason string) []byte {
	if len(reason) > rejectReasonMax {
		reason = reason[:rejectReasonMax]
	}
	buf = append(buf, byte(r))
	buf = binary.AppendUvarint(buf, uint64(len(reason)))
	return append(buf, reason...)
}

func decodeResult(p []byte) (snapResult, string, error) {
	d := decoder{b: p, ctx: "snapshot result"}
	r := snapResult(d.byte("result"))
	reason := d.bytes(d.uvarint("reason length"), "reason")
	if d.err == nil && d.remaining() != 0 {
		d.fail("%d trailing bytes", d.remaining())
	}
	if d.err == nil && r > snapBusy {
		d.fail("result %d", r)
	}
	return r, string(reason), d.err
}
