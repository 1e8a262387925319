package transport

import (
	"fmt"
	"io"
	"time"
)

// readRaft reads an accepted Raft link until it fails: it decodes each
// frame and hands its messages to the inbound ring as one batch. A full
// ring holds the reader back, and TCP then holds the sender back, so a
// slow handler bounds memory instead of growing it. A clean close by the
// peer is not an error.
func (t *Transport) readRaft(l *link) error {
	t.wg.Add(1)
	go t.pingLoop(l)
	for {
		l.conn.SetReadDeadline(time.Now().Add(t.cfg.IdleTimeout))
		typ, payload, err := l.readFrame()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return linkReadError(err)
		}
		t.stats.bytesReceived.Add(uint64(frameHeaderBytes + len(payload)))
		t.stats.framesReceived.Add(1)
		var (
			msgs     []Msg // new for each frame: the handler keeps it
			from, to uint64
		)
		switch typ {
		case framePing:
			continue
		case frameMessages:
			msgs, from, to, err = decodeMessages(payload, nil)
		case frameHeartbeats, frameHeartbeatResps:
			msgs, from, to, err = decodeHeartbeats(payload, typ == frameHeartbeatResps, nil)
			t.stats.heartbeatFramesReceived.Add(1)
			t.stats.heartbeatsReceived.Add(uint64(len(msgs)))
		default:
			return fmt.Errorf("%w: %s frame on a Raft connection", ErrUnexpectedFrame, typ)
		}
		if err != nil {
			return err
		}
		if from != l.peer {
			return fmt.Errorf("%w: frame from node %d on node %d's connection", ErrWrongNode, from, l.peer)
		}
		if to != t.cfg.NodeID {
			t.stats.droppedWrongNode.Add(uint64(len(msgs)))
			t.countError(fmt.Errorf("%w: %d messages from node %d for node %d", ErrWrongNode, len(msgs), from, to),
				"dropped messages addressed to another node", "peer", l.peer)
			continue
		}
		if err := t.inbound.Publish(t.ctx, msgs); err != nil {
			return nil // closing
		}
		t.stats.messagesReceived.Add(uint64(len(msgs)))
	}
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
