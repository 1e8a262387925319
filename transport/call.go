package transport

import (
	"context"
	"fmt"
	"time"
)

// CallHandler serves the calls peers make with Transport.Call. A Handler
// that also implements it serves calls; one that does not answers every
// call with ErrRemote. It is an interface of its own rather than a method
// of Handler so that the Handlers written before calls existed go on
// compiling unchanged.
type CallHandler interface {
	// HandleCall answers req, which node from sent with Call. It runs on a
	// goroutine of its own, never on a connection's reader, concurrently
	// with other calls (up to Config.CallsServedMax per peer) and with
	// HandleMessages. ctx ends when the caller's deadline passes (the
	// request carries the time it had left), when the call connection is
	// lost, or when the transport closes; the handler should then return
	// soon, as Close waits for it. An error goes back as text: the caller
	// gets ErrPeerBusy if it wraps ErrPeerBusy, else ErrRemote. req is the
	// handler's to keep.
	HandleCall(ctx context.Context, from uint64, req []byte) ([]byte, error)
}

// Call sends req to node and returns the response node's CallHandler
// gave, or fails when ctx ends first. Concurrent calls to one node share
// one call connection, each matched to its response by an ID. The
// response is the caller's to keep, and req may be reused once Call
// returns. The errors to match:
//
//   - ErrFrameTooLarge: req is longer than CallPayloadBytesMax; nothing
//     was sent.
//   - ErrUnreachable: node is unknown, could not be reached, or its call
//     connection was lost while the call was in flight; every call in
//     flight on a lost connection fails at once. In the last case node
//     may have served the request.
//   - ErrPeerBusy: node refused the request, unserved.
//   - ErrRemote: node's handler returned an error, whose text follows.
//   - ctx's error (context.DeadlineExceeded or context.Canceled): the
//     request may still be served; a response that comes later is dropped
//     and counted (Stats.CallsLate).
func (t *Transport) Call(ctx context.Context, node uint64, req []byte) ([]byte, error) {
	resp, err := t.call(ctx, node, req)
	if err != nil {
		t.stats.callsFailed.Add(1)
	}
	return resp, err
}

// CallPayloadBytesMax is the longest request Call sends, and the longest
// response a handler may give (a longer one is answered ErrRemote): the
// frame limit less the call's own fields.
func (t *Transport) CallPayloadBytesMax() int { return t.cfg.MaxFrameBytes - callOverheadBytes }

func (t *Transport) call(ctx context.Context, node uint64, req []byte) ([]byte, error) {
	if limit := t.CallPayloadBytesMax(); len(req) > limit {
		return nil, fmt.Errorf("%w: call to node %d of %d bytes, the limit is %d (max_frame_bytes %d less %d for the call's fields)",
			ErrFrameTooLarge, node, len(req), limit, t.cfg.MaxFrameBytes, callOverheadBytes)
	}
	if ctx.Err() != nil {
		return nil, callCtxError(ctx, node)
	}
	p := t.peer(node)
	switch {
	case t.closed.Load():
		return nil, fmt.Errorf("%w: %w: node %d: %w", ErrUnreachable, ErrNotSent, node, ErrClosed)
	case p == nil:
		return nil, fmt.Errorf("%w: %w: no address known for node %d", ErrUnreachable, ErrNotSent, node)
	}
	c, err := p.callConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	var deadline uint64
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, fmt.Errorf("transport: call to node %d: %w", node, context.DeadlineExceeded)
		}
		deadline = deadlineMicros(left)
	}
	id, reply, err := c.register()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSent, err) // the connection shut before the request was posted
	}
	// Posting can fail only once the connection is shut, which has already
	// sent this call its reply.
	if c.post(callRequestFrame(id, deadline, req, c.l.checksum)) {
		t.stats.callsSent.Add(1)
		t.stats.callBytesSent.Add(uint64(len(req)))
	}
	select {
	case r := <-reply:
		return r.resp, r.err
	case <-ctx.Done():
		if c.abandon(id) {
			return nil, callCtxError(ctx, node)
		}
		r := <-reply // it came just as the caller gave up: better late than lost
		return r.resp, r.err
	}
}

func callCtxError(ctx context.Context, node uint64) error {
	return fmt.Errorf("transport: call to node %d: %w", node, ctx.Err())
}

// callDial is a dial of a call connection, shared by every call that
// waits for it; c and err are set before done closes.
type callDial struct {
	done chan struct{}
	c    *callConn
	err  error
}

// callConn returns the peer's call connection, dialing one if it has none
// open. Calls that find a dial under way share it, each waiting within
// its own ctx; the dial goes on if they all give up.
func (p *peer) callConn(ctx context.Context) (*callConn, error) {
	if c := p.call.Load(); c != nil && !c.isClosed() {
		return c, nil
	}
	c, d, err := p.startCallDial()
	if c != nil || err != nil {
		return c, err
	}
	select {
	case <-d.done:
		if d.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnreachable, d.err)
		}
		return d.c, nil
	case <-ctx.Done():
		return nil, callCtxError(ctx, p.id)
	}
}

// startCallDial returns an open call connection made since the caller
// looked, or the dial under way, starting one if there is none.
func (p *peer) startCallDial() (*callConn, *callDial, error) {
	t := p.t
	// Under peersMu, so that Close, which takes it after marking the
	// transport closed, never waits for a dial it did not see start.
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	p.callMu.Lock()
	defer p.callMu.Unlock()
	switch {
	case t.closed.Load():
		return nil, nil, fmt.Errorf("%w: node %d: %w", ErrUnreachable, p.id, ErrClosed)
	case p.ctx.Err() != nil:
		return nil, nil, fmt.Errorf("%w: node %d was removed or its address changed: %w", ErrUnreachable, p.id, ErrClosed)
	}
	if c := p.call.Load(); c != nil && !c.isClosed() {
		return c, nil, nil
	}
	if p.dial == nil {
		p.dial = &callDial{done: make(chan struct{})}
		t.wg.Add(1)
		go p.dialCall(p.dial)
	}
	return nil, p.dial, nil
}

// dialCall makes a call connection, starts its reader and publishes it.
func (p *peer) dialCall(d *callDial) {
	t := p.t
	defer t.wg.Done()
	l, err := t.dial(p.ctx, p.id, p.addr, connCall)
	var c *callConn
	switch {
	case err == nil:
		p.callDialFailing.Store(false)
		c = t.newCallConn(l)
		t.wg.Add(1)
		go c.readResponses()
		p.call.Store(c)
		if p.ctx.Err() != nil { // stop raced with the dial and may have missed c
			c.shut(ErrClosed)
		}
	case p.ctx.Err() == nil && !p.callDialFailing.Swap(true):
		t.countError(err, "cannot open a call connection to a peer; further failures are counted, not logged, until one opens", "peer", p.id, "addr", p.addr)
	case p.ctx.Err() == nil:
		t.stats.errors[KindOf(err)].Add(1)
	}
	p.callMu.Lock()
	d.c, d.err = c, err
	p.dial = nil
	p.callMu.Unlock()
	close(d.done)
}
