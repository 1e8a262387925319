package transport

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// The receive side of a Raft link is two goroutines: the reader takes
// frames off the socket, and the decoder checks and decodes them and hands
// each frame's messages to Handler as one batch. Splitting them lets the
// next read syscall run while the last frame is decoded: on the loopback
// benchmark one goroutine doing both was the bottleneck of the whole path.
// But on a quiet link the hand-off is a goroutine wake-up on the path of
// every message, so a frame that finds the decoder idle and nothing more
// read behind it is decoded and delivered by the reader itself.
// decodeQueueFrames bounds what waits between them; a handler that blocks
// holds the decoder back, which holds the reader back, and TCP then holds
// the sender back.
const decodeQueueFrames = 8

// rawFrame is a frame read but not yet checked.
type rawFrame struct {
	hdr     [frameHeaderBytes]byte
	typ     frameType
	payload []byte
}

// readRaft reads an accepted Raft link until it fails or closes. A clean
// close by the peer is not an error.
func (t *Transport) readRaft(l *link) error {
	frames := make(chan rawFrame, decodeQueueFrames)
	var queued atomic.Int32 // frames handed to the decoder and not yet delivered
	t.wg.Add(2)
	go t.pingLoop(l)
	go t.decodeLoop(l, frames, &queued)
	defer close(frames)
	var slab []Msg // for the frames decoded here
	for {
		l.conn.SetReadDeadline(time.Now().Add(t.cfg.IdleTimeout))
		var f rawFrame
		typ, payload, err := readFrameUnchecked(l.r, &f.hdr, l.lim, nil)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return linkReadError(err)
		}
		t.stats.bytesReceived.Add(uint64(frameHeaderBytes + len(payload)))
		t.stats.framesReceived.Add(1)
		f.typ, f.payload = typ, payload
		if queued.Load() == 0 && l.r.Buffered() == 0 {
			// Nothing waits before this frame or behind it.
			if !t.deliverFrame(l, &f, &slab) {
				return nil
			}
			continue
		}
		queued.Add(1)
		select {
		case frames <- f:
		case <-l.done: // the decoder failed and closed the link
			return nil
		}
	}
}

// decodeLoop checks, decodes and delivers the frames of one link in order.
func (t *Transport) decodeLoop(l *link, frames <-chan rawFrame, queued *atomic.Int32) {
	defer t.wg.Done()
	var slab []Msg
	for f := range frames {
		if !l.isClosed() {
			t.deliverFrame(l, &f, &slab)
		}
		queued.Add(-1)
	}
}

// deliverFrame checks and decodes f and hands its messages to Handler. A
// bad frame closes the link, and what follows it is dropped: it reports
// false. Each frame's messages are carved from *slab, so decoding one
// costs no growing slice; the handler keeps them, so carved parts are
// never reused.
func (t *Transport) deliverFrame(l *link, f *rawFrame, slab *[]Msg) bool {
	if cap(*slab)-len(*slab) < msgSlabLen/4 {
		*slab = make([]Msg, 0, msgSlabLen)
	}
	msgs, n, err := t.decodeFrame(l, f, (*slab)[len(*slab):])
	if err != nil {
		l.close(err)
		return false
	}
	*slab = (*slab)[:len(*slab)+n]
	if len(msgs) > 0 && !t.closed.Load() {
		t.stats.messagesReceived.Add(uint64(len(msgs)))
		t.cfg.Handler.HandleMessages(msgs)
	}
	return true
}

// msgSlabLen is the messages a decoder's slab holds.
const msgSlabLen = 1024

// decodeFrame checks and decodes f into free, a slab's spare capacity. It
// returns the messages to deliver (none for a ping, or for messages
// addressed to another node, which are counted) and how many of free they
// took.
func (t *Transport) decodeFrame(l *link, f *rawFrame, free []Msg) (msgs []Msg, used int, err error) {
	if err := checkFrameCRC(f.hdr[:], f.payload, f.typ); err != nil {
		return nil, 0, err
	}
	var from, to uint64
	switch f.typ {
	case framePing:
		return nil, 0, nil
	case frameMessages:
		msgs, from, to, err = decodeMessages(f.payload, free)
	case frameHeartbeats, frameHeartbeatResps:
		msgs, from, to, err = decodeHeartbeats(f.payload, f.typ == frameHeartbeatResps, free)
		t.stats.heartbeatFramesReceived.Add(1)
		t.stats.heartbeatsReceived.Add(uint64(len(msgs)))
	default:
		return nil, 0, fmt.Errorf("%w: %s frame on a Raft connection", ErrUnexpectedFrame, f.typ)
	}
	if err != nil {
		return nil, 0, err
	}
	if cap(msgs) == cap(free) { // decoded in place: it is taken from the slab
		used = len(msgs)
	}
	msgs = msgs[:len(msgs):len(msgs)]
	if from != l.peer {
		return nil, 0, fmt.Errorf("%w: frame from node %d on node %d's connection", ErrWrongNode, from, l.peer)
	}
	if to != t.cfg.NodeID {
		t.stats.droppedWrongNode.Add(uint64(len(msgs)))
		t.countError(fmt.Errorf("%w: %d messages from node %d for node %d", ErrWrongNode, len(msgs), from, to),
			"dropped messages addressed to another node", "peer", l.peer)
		return nil, used, nil
	}
	return msgs, used, nil
}

// pingLoop proves the accepted link alive to its dialer, which otherwise
// hears nothing on it and would take a dead peer for a quiet one.
func (t *Transport) pingLoop(l *link) {
	defer t.wg.Done()
	ping := appendFrame(nil, framePing, nil, l.checksum)
	tick := time.NewTicker(t.cfg.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-tick.C:
			l.conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
			if _, err := l.conn.Write(ping); err != nil {
				l.close(fmt.Errorf("%w: writing a ping: %w", ErrIO, err))
				return
			}
		}
	}
}
