package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// callConn is a call connection seen from either end: the dialer writes
// requests and reads responses, the acceptor reads requests and writes
// responses. Each end has one writer goroutine, which drains whatever
// frames are queued into one writev and pings when it has written nothing
// for a ping interval, so that each end can hold the other to the idle
// timeout.
//
// A goroutine that queues a frame never writes it itself: a caller whose
// context ends must not be stuck in a write of other callers' frames.
type callConn struct {
	t *Transport
	l *link

	wake chan struct{} // capacity 1: frames are queued

	mu     sync.Mutex
	out    [][]byte // frames for the writer, in the order they were queued
	closed bool     // set by shut: nothing is queued or registered after
	lost   error    // why the connection closed, as a call sees it; set with closed
	// The dialer's side. Invariant: every key of pending is at most
	// lastID, and an ID is never issued twice on a connection.
	lastID  uint64                      // the last request ID issued
	pending map[uint64]chan<- callReply // calls waiting for their response
}

// callReply is how a call ended: the response, or why there is none.
type callReply struct {
	resp []byte
	err  error
}

// newCallConn starts l's writer; the caller runs the reader.
func (t *Transport) newCallConn(l *link) *callConn {
	c := &callConn{t: t, l: l, wake: make(chan struct{}, 1), pending: map[uint64]chan<- callReply{}}
	t.wg.Add(1)
	go c.writeLoop()
	return c
}

func (c *callConn) isClosed() bool { return c.l.isClosed() }

// post queues a whole frame for the writer. It reports false, dropping
// the frame, once the connection is closed.
func (c *callConn) post(frame []byte) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.out = append(c.out, frame)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // already woken: it takes this frame too
	}
	return true
}

func (c *callConn) writeLoop() {
	defer c.t.wg.Done()
	tick := time.NewTicker(c.t.cfg.PingInterval)
	defer tick.Stop()
	ping := appendFrame(nil, framePing, nil, c.l.checksum)
	var spare [][]byte
	wrote := false // since the last tick
	for {
		var bufs net.Buffers
		select {
		case <-c.l.done:
			return
		case <-tick.C:
			if !wrote {
				bufs = append(bufs, ping)
			}
			wrote = false
		case <-c.wake:
		}
		c.mu.Lock()
		frames := c.out
		c.out, spare = spare[:0], nil // spare is posters' now, frames the writer's
		c.mu.Unlock()
		bufs = append(bufs, frames...)
		if len(bufs) == 0 {
			continue
		}
		c.l.conn.SetWriteDeadline(time.Now().Add(c.t.cfg.WriteTimeout))
		if _, err := bufs.WriteTo(c.l.conn); err != nil {
			c.l.close(fmt.Errorf("%w: writing to node %d's call connection: %w", ErrIO, c.l.peer, err))
			return
		}
		wrote = true
		clear(frames) // a written request may be large: let it go now
		spare = frames
	}
}

// readLoop reads frames until the link fails, handing all but pings to
// handle; a clean end of stream is io.EOF.
func (c *callConn) readLoop(handle func(frameType, []byte) error) error {
	for {
		c.l.conn.SetReadDeadline(time.Now().Add(c.t.cfg.IdleTimeout))
		typ, p, err := c.l.readFrame()
		if err != nil {
			return linkReadError(err)
		}
		if typ == framePing {
			continue
		}
		if err := handle(typ, p); err != nil {
			return err
		}
	}
}

// shut closes the connection, if it is not already, and fails every call
// waiting on it with ErrUnreachable wrapping the first cause. Frames still
// queued are dropped.
func (c *callConn) shut(cause error) {
	c.l.close(cause)
	cause = c.l.err // the first, from whichever goroutine closed it
	if cause == nil {
		cause = fmt.Errorf("%w: closed", ErrIO)
	}
	lost := fmt.Errorf("%w: node %d: the call connection closed before an answer: %w", ErrUnreachable, c.l.peer, cause)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed, c.lost = true, lost
	for id, ch := range c.pending {
		ch <- callReply{err: lost}
		delete(c.pending, id)
	}
	clear(c.out)
	c.out = nil
}

// register issues the next request ID and the channel its reply comes on.
func (c *callConn) register() (uint64, <-chan callReply, error) {
	ch := make(chan callReply, 1) // the reply is sent under mu, never blocking
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, nil, c.lost
	}
	c.lastID++
	c.pending[c.lastID] = ch
	return c.lastID, ch, nil
}

// abandon forgets call id, whose caller gives up. It reports false when
// the reply had already come: it is then in the call's channel.
func (c *callConn) abandon(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[id]; !ok {
		return false
	}
	delete(c.pending, id)
	return true
}

// readResponses is the dialer's reader: it matches each response to its
// call, until the connection fails, and then fails the calls left.
func (c *callConn) readResponses() {
	defer c.t.wg.Done()
	err := c.readLoop(c.response)
	if err == io.EOF {
		err = fmt.Errorf("%w: node %d closed the call connection", ErrIO, c.l.peer)
	}
	c.shut(err)
	if err := c.l.err; !errors.Is(err, ErrClosed) && !c.t.closed.Load() {
		c.t.countError(err, "lost the call connection to a peer", "peer", c.l.peer)
	}
}

// response hands a response to its waiting call. One for a call whose
// caller gave up is dropped and counted; one for an ID never issued on
// this connection is a protocol error.
func (c *callConn) response(typ frameType, p []byte) error {
	if typ != frameCallResponse {
		return fmt.Errorf("%w: %s frame from the acceptor of a call connection", ErrUnexpectedFrame, typ)
	}
	id, st, rest, err := decodeCallResponse(p)
	if err != nil {
		return err
	}
	c.t.stats.callBytesReceived.Add(uint64(len(rest)))
	reply := callReply{resp: rest}
	switch st {
	case callFailed:
		reply = callReply{err: fmt.Errorf("%w: node %d: %s", ErrRemote, c.l.peer, rest)}
	case callBusy:
		reply = callReply{err: fmt.Errorf("%w: node %d: %s", ErrPeerBusy, c.l.peer, rest)}
	}
	c.mu.Lock()
	ch, waiting := c.pending[id]
	if waiting {
		delete(c.pending, id)
		ch <- reply
	}
	last := c.lastID
	c.mu.Unlock()
	switch {
	case waiting:
	case id > last:
		return fmt.Errorf("%w: response to call %d, but the last call sent was %d", ErrMalformed, id, last)
	default:
		c.t.stats.callsLate.Add(1)
	}
	return nil
}
