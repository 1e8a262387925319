package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// callServer counts the calls being served, per calling node, against
// Config.CallsServedMax.
type callServer struct {
	mu      sync.Mutex
	serving map[uint64]int // by calling node; no entry for none
}

func (s *callServer) acquire(from uint64, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving[from] >= limit {
		return false
	}
	if s.serving == nil {
		s.serving = map[uint64]int{}
	}
	s.serving[from]++
	return true
}

func (s *callServer) release(from uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving[from]--; s.serving[from] <= 0 {
		delete(s.serving, from)
	}
}

// serveCalls reads the requests of an accepted call connection and serves
// each on a goroutine of its own, so that a request waiting on consensus
// holds up neither the requests behind it nor anything else. A clean
// close by the peer is not an error.
func (t *Transport) serveCalls(l *link) error {
	c := t.newCallConn(l)
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel() // a lost connection's handlers have no one left to answer
	err := c.readLoop(func(typ frameType, p []byte) error {
		if typ != frameCallRequest {
			return fmt.Errorf("%w: %s frame on a call connection", ErrUnexpectedFrame, typ)
		}
		return t.serveRequest(ctx, c, p)
	})
	if err == io.EOF {
		err = nil
	}
	c.shut(err)
	return err
}

// serveRequest starts serving one request, or answers busy at once when
// the peer already has CallsServedMax calls being served.
func (t *Transport) serveRequest(ctx context.Context, c *callConn, p []byte) error {
	id, deadline, req, err := decodeCallRequest(p)
	if err != nil {
		return err
	}
	t.stats.callBytesReceived.Add(uint64(len(req)))
	from := c.l.peer
	if !t.calls.acquire(from, t.cfg.CallsServedMax) {
		t.stats.callsBusy.Add(1)
		why := fmt.Appendf(nil, "node %d is serving %d calls from node %d already, its calls_served_max", t.cfg.NodeID, t.cfg.CallsServedMax, from)
		c.post(callResponseFrame(id, callBusy, why, c.l.checksum))
		return nil
	}
	t.wg.Add(1)
	go t.serveCall(ctx, c, id, deadlineDuration(deadline), req)
	return nil
}

// serveCall runs the handler for one request and queues its answer.
func (t *Transport) serveCall(ctx context.Context, c *callConn, id uint64, timeout time.Duration, req []byte) {
	defer t.wg.Done()
	from := c.l.peer
	defer t.calls.release(from)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	resp, err := t.handleCall(ctx, from, req)
	st := callOK
	switch {
	case errors.Is(err, ErrPeerBusy):
		st, resp = callBusy, []byte(truncateErrorText(err.Error()))
	case err != nil:
		st, resp = callFailed, []byte(truncateErrorText(err.Error()))
	case len(resp) > t.CallPayloadBytesMax():
		st, resp = callFailed, fmt.Appendf(nil, "node %d's response of %d bytes exceeds the limit of %d", t.cfg.NodeID, len(resp), t.CallPayloadBytesMax())
	}
	if t.closed.Load() {
		// Its callers are told their connection was lost, not that the
		// handler's context ended.
		return
	}
	if c.post(callResponseFrame(id, st, resp, c.l.checksum)) {
		t.stats.callsServed.Add(1)
		t.stats.callBytesSent.Add(uint64(len(resp)))
	}
}

func (t *Transport) handleCall(ctx context.Context, from uint64, req []byte) ([]byte, error) {
	h, ok := t.cfg.Handler.(CallHandler)
	if !ok {
		return nil, fmt.Errorf("node %d serves no calls: its transport handler has no HandleCall", t.cfg.NodeID)
	}
	return h.HandleCall(ctx, from, req)
}
