package transport

import (
	"encoding/binary"
	"fmt"
	"net"
)

// writer encodes what one drain of a peer's ring holds into frames:
// ordinary messages into messages frames (in queue order, cut near
// frameTargetBytes), heartbeats and their responses into one coalesced
// frame each (or one per frame limit's worth of tuples). buffers hands them all to one writev, messages first, so a
// heartbeat never overtakes an append queued before it.
type writer struct {
	from, to uint64
	maxFrame int
	checksum bool

	msgBuf  []byte // finished messages frames, then the open one
	hbBuf   []byte // one heartbeats frame
	respBuf []byte // one heartbeat responses frame
	pingBuf []byte

	msgFrame  int // offset of the open messages frame in msgBuf, or -1
	hbFrame   int // offset of the heartbeats frame, or -1
	respFrame int
	ping      bool

	msgs, heartbeats, frames, hbFrames int
	vec                                [4][]byte
}

// frameTargetBytes is where a messages frame is cut: the receiver decodes
// a frame only once it has all of it, so frames much larger than a Raft
// append would only delay the first message in them.
const frameTargetBytes = 64 << 10

func (w *writer) init(from, to uint64, maxFrame int, checksum bool) {
	w.from, w.to, w.maxFrame, w.checksum = from, to, maxFrame, checksum
	w.reset()
}

func (w *writer) reset() {
	const keepBytes = 8 << 20 // give back what a burst of large appends grew
	for _, b := range []*[]byte{&w.msgBuf, &w.hbBuf, &w.respBuf, &w.pingBuf} {
		if cap(*b) > keepBytes {
			*b = nil
		}
		*b = (*b)[:0]
	}
	w.msgFrame, w.hbFrame, w.respFrame = -1, -1, -1
	w.ping = false
	w.msgs, w.heartbeats, w.frames, w.hbFrames = 0, 0, 0, 0
}

func (w *writer) empty() bool { return w.msgs == 0 && w.heartbeats == 0 && !w.ping }

func (w *writer) pendingBytes() int { return len(w.msgBuf) + len(w.hbBuf) + len(w.respBuf) }

// add encodes m. A message that cannot be encoded, or that alone would
// exceed the frame limit, is refused and leaves nothing behind.
func (w *writer) add(m *Msg) error {
	switch {
	case isCoalescibleHeartbeat(m):
		w.hbBuf = w.openTuples(w.hbBuf, &w.hbFrame, frameHeartbeats)
		w.hbBuf = appendHeartbeat(w.hbBuf, m)
		w.heartbeats++
		return nil
	case isCoalescibleHeartbeatResp(m):
		w.respBuf = w.openTuples(w.respBuf, &w.respFrame, frameHeartbeatResps)
		w.respBuf = appendHeartbeatResp(w.respBuf, m)
		w.heartbeats++
		return nil
	}
	if w.msgFrame >= 0 && len(w.msgBuf)-w.msgFrame >= frameTargetBytes {
		w.closeMsgFrame()
	}
	opened := w.msgFrame < 0
	if opened {
		w.msgBuf, w.msgFrame = beginFrame(w.msgBuf, frameMessages)
		w.msgBuf = appendMessagesHeader(w.msgBuf, w.from, w.to)
	}
	mark := len(w.msgBuf)
	buf, err := appendMessage(w.msgBuf, m)
	if err == nil && len(buf)-w.msgFrame-frameHeaderBytes <= w.maxFrame {
		w.msgBuf = buf
		w.msgs++
		return nil
	}
	size := len(buf) - mark
	if opened { // nothing else in the frame: take it back
		w.msgBuf, w.msgFrame = w.msgBuf[:w.msgFrame], -1
	} else {
		w.msgBuf = w.msgBuf[:mark]
	}
	switch {
	case err != nil:
		return err
	case opened:
		return fmt.Errorf("%w: %s for group %d takes %d bytes, the frame limit is %d", ErrFrameTooLarge, m.Type, m.Group, size, w.maxFrame)
	}
	// Too big for what the open frame already holds: alone in a new one.
	w.closeMsgFrame()
	return w.add(m)
}

// maxTupleBytes is the most one heartbeat tuple takes.
const maxTupleBytes = 4 * binary.MaxVarintLen64

// openTuples makes room for one more tuple in buf's coalesced frame: it
// starts one if none is open, and a new one after it when the next tuple
// might not fit under the frame limit (only tens of thousands of groups
// on one peer pair get there).
func (w *writer) openTuples(buf []byte, off *int, t frameType) []byte {
	if *off >= 0 && len(buf)-*off-frameHeaderBytes+maxTupleBytes > w.maxFrame {
		finishFrame(buf, *off, w.checksum)
		w.frames++
		w.hbFrames++
		*off = -1
	}
	if *off >= 0 {
		return buf
	}
	buf, *off = beginFrame(buf, t)
	return appendMessagesHeader(buf, w.from, w.to)
}

func (w *writer) closeMsgFrame() {
	finishFrame(w.msgBuf, w.msgFrame, w.checksum)
	w.msgFrame = -1
	w.frames++
}

// buffers finishes the open frames and returns everything to write.
func (w *writer) buffers() net.Buffers {
	if w.msgFrame >= 0 {
		w.closeMsgFrame()
	}
	v := w.vec[:0]
	if len(w.msgBuf) > 0 {
		v = append(v, w.msgBuf)
	}
	for _, f := range []struct {
		buf *[]byte
		off int
	}{{&w.hbBuf, w.hbFrame}, {&w.respBuf, w.respFrame}} {
		if f.off >= 0 {
			finishFrame(*f.buf, f.off, w.checksum)
			v = append(v, *f.buf)
			w.frames++
			w.hbFrames++
		}
	}
	if w.ping {
		w.pingBuf = appendFrame(w.pingBuf[:0], framePing, nil, w.checksum)
		v = append(v, w.pingBuf)
		w.frames++
	}
	return v
}
