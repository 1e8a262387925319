package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/ringbuf"
)

// peer is the outbound side of one peer node: an MPSC ring that every
// group's messages for the node go into, one writer draining it onto one
// connection, and a connector that keeps that connection up; and the call
// connection to the node, made when a call first needs it (call.go).
type peer struct {
	t    *Transport
	id   uint64
	addr string
	ring *ringbuf.Ring[Msg]
	link atomic.Pointer[link] // nil while down: the writer drops what it drains
	// dialing is set while a dial is under way and closed when it ends:
	// the writer holds messages for a connection about to come up, and
	// drops them only while the peer is known to be down.
	dialing atomic.Pointer[chan struct{}]
	idle    atomic.Bool     // set by the connector, cleared by each write: ping when still set
	ctx     context.Context // ends when the peer is removed or the transport closes
	cancel  context.CancelFunc
	w       writer // owned by the ring's consumer

	call   atomic.Pointer[callConn] // the last call connection made; it may have closed since
	callMu sync.Mutex               // guards dial
	dial   *callDial                // the call connection being dialed, or nil
	// callDialFailing is set from a failed call dial to the next success:
	// while a peer is down every forwarded request dials it, and only the
	// first failure is logged (all are counted).
	callDialFailing atomic.Bool
}

func (t *Transport) newPeer(id uint64, addr string) (*peer, error) {
	ring, err := ringbuf.New[Msg](ringbuf.Config{Capacity: t.cfg.SendQueueMessages, Wait: ringbuf.Blocking})
	if err != nil {
		return nil, fmt.Errorf("%w: send ring: %w", ErrInvalidConfig, err)
	}
	p := &peer{t: t, id: id, addr: addr, ring: ring}
	p.ctx, p.cancel = context.WithCancel(t.ctx)
	first := make(chan struct{})
	p.dialing.Store(&first)
	p.w.init(t.cfg.NodeID, id, t.cfg.MaxFrameBytes, t.tls == nil || t.cfg.ChecksumUnderTLS)
	t.wg.Add(2)
	go p.writeLoop()
	go p.connectLoop()
	return p, nil
}

// stop ends the peer's goroutines without waiting for them (Close does).
func (p *peer) stop() {
	p.cancel()
	p.ring.Close()
	if l := p.link.Load(); l != nil {
		l.close(ErrClosed)
	}
	if c := p.call.Load(); c != nil {
		c.shut(ErrClosed)
	}
}

// pingMarker is queued by the connector when the link has been idle for a
// ping interval; the writer turns it into a ping frame. It is not a valid
// message type, so it cannot be mistaken for one.
var pingMarker = Msg{}

// enqueue publishes a run of messages for this peer as one batch.
func (p *peer) enqueue(run []Msg) {
	for len(run) > 0 {
		n := min(len(run), p.ring.Cap())
		if err := p.ring.TryPublishBatch(run[:n]); err != nil {
			p.t.stats.messagesDropped.Add(uint64(n))
		}
		run = run[n:]
	}
}

func (p *peer) writeLoop() {
	defer p.t.wg.Done()
	err := p.ring.Run(p.handle)
	if !errors.Is(err, ringbuf.ErrClosed) {
		p.t.log.Error("writer stopped", "peer", p.id, "err", err)
	}
}

// handle encodes a drained batch and, at the end of the drain, writes all
// of it with one syscall.
func (p *peer) handle(batch []Msg, end bool) error {
	for i := range batch {
		m := &batch[i]
		if m.Type == 0 {
			p.w.ping = true
			continue
		}
		if m.Type == consensus.MsgSnap {
			p.t.stats.messagesDropped.Add(1)
			p.t.countError(fmt.Errorf("%w: MsgSnap for group %d queued without its data; use SendSnapshot", ErrSnapshot, m.Group), "dropped a message", "peer", p.id)
			continue
		}
		if err := p.w.add(m); err != nil {
			p.t.stats.messagesDropped.Add(1)
			p.t.countError(err, "dropped a message", "peer", p.id, "group", m.Group, "type", m.Type.String())
		}
	}
	if end || p.w.pendingBytes() >= flushBytes {
		p.flush()
	}
	return nil
}

// flushBytes bounds what the writer holds before writing, even mid-drain.
const flushBytes = 256 << 10

func (p *peer) flush() {
	w := &p.w
	defer w.reset()
	if w.empty() {
		return
	}
	l := p.currentLink()
	if l == nil {
		p.t.stats.messagesDropped.Add(uint64(w.msgs + w.heartbeats))
		return
	}
	bufs := w.buffers()
	size := int64(0)
	for _, b := range bufs {
		size += int64(len(b))
	}
	l.conn.SetWriteDeadline(time.Now().Add(p.t.cfg.WriteTimeout))
	if _, err := bufs.WriteTo(l.conn); err != nil {
		p.t.stats.messagesDropped.Add(uint64(w.msgs + w.heartbeats))
		l.close(fmt.Errorf("%w: writing to node %d: %w", ErrIO, p.id, err))
		return
	}
	p.idle.Store(false)
	s := &p.t.stats
	s.writes.Add(1)
	s.bytesSent.Add(uint64(size))
	s.framesSent.Add(uint64(w.frames))
	s.messagesSent.Add(uint64(w.msgs + w.heartbeats))
	if w.hbFrames > 0 {
		s.heartbeatFramesSent.Add(uint64(w.hbFrames))
		s.heartbeatsSent.Add(uint64(w.heartbeats))
	}
}

// connectLoop keeps one connection to the peer: it dials with backoff,
// watches the link until it breaks, and reports the peer unreachable each
// time messages to it may have been lost.
func (p *peer) connectLoop() {
	defer p.t.wg.Done()
	bo := backoff{min: p.t.cfg.BackoffMin, max: p.t.cfg.BackoffMax}
	failures := 0
	for p.ctx.Err() == nil {
		l, err := p.dialOnce()
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			p.t.stats.dialFailures.Add(1)
			p.t.stats.errors[KindOf(err)].Add(1)
			if failures == 0 {
				p.t.log.Warn("cannot reach peer; retrying with backoff", "peer", p.id, "addr", p.addr, "kind", KindOf(err).String(), "err", err)
			} else {
				p.t.log.Debug("still cannot reach peer", "peer", p.id, "attempt", failures+1, "err", err)
			}
			failures++
			p.t.cfg.Handler.Unreachable(p.id)
			if !sleepCtx(p.ctx, bo.next()) {
				return
			}
			continue
		}
		bo.reset()
		failures = 0
		p.t.stats.connects.Add(1)
		p.t.log.Info("connected to peer", "peer", p.id, "addr", p.addr)
		p.t.wg.Add(1)
		go p.readLoop(l)
		p.watch(l)
		p.link.CompareAndSwap(l, nil)
		if p.ctx.Err() != nil {
			return
		}
		p.t.countError(l.err, "lost the connection to a peer; reconnecting", "peer", p.id)
		p.t.cfg.Handler.Unreachable(p.id)
		if !sleepCtx(p.ctx, bo.next()) {
			return
		}
	}
}

// dialOnce dials and publishes the link before it lets a waiting writer
// go on.
func (p *peer) dialOnce() (*link, error) {
	ch := p.dialing.Load() // newPeer sets the first, so no early writer misses it
	if ch == nil {
		c := make(chan struct{})
		ch = &c
		p.dialing.Store(ch)
	}
	defer func() {
		p.dialing.Store(nil)
		close(*ch)
	}()
	l, err := p.t.dial(p.ctx, p.id, p.addr, connRaft)
	if err != nil {
		return nil, err
	}
	p.link.Store(l)
	if p.ctx.Err() != nil { // stop raced with the dial and may have missed l
		l.close(ErrClosed)
	}
	return l, nil
}

// currentLink returns the link to write to, waiting for a dial under way.
func (p *peer) currentLink() *link {
	if l := p.link.Load(); l != nil {
		return l
	}
	if ch := p.dialing.Load(); ch != nil {
		select {
		case <-*ch:
		case <-p.ctx.Done():
		}
	}
	return p.link.Load()
}

// watch waits for the link to close, queueing a ping whenever a ping
// interval passes without a write.
func (p *peer) watch(l *link) {
	tick := time.NewTicker(p.t.cfg.PingInterval)
	defer tick.Stop()
	p.idle.Store(false)
	for {
		select {
		case <-l.done:
			return
		case <-p.ctx.Done():
			l.close(ErrClosed)
			return
		case <-tick.C:
			if p.idle.Swap(true) {
				p.ring.TryPublish(pingMarker) // full ring: there is traffic, no ping needed
			}
		}
	}
}

// readLoop reads what the acceptor sends back on a Raft link: pings only.
// Its one job is to notice promptly that the link died.
func (p *peer) readLoop(l *link) {
	defer p.t.wg.Done()
	for {
		l.conn.SetReadDeadline(time.Now().Add(p.t.cfg.IdleTimeout))
		typ, payload, err := l.readFrame()
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: node %d closed the connection", ErrIO, p.id)
			}
			l.close(linkReadError(err))
			return
		}
		p.t.stats.bytesReceived.Add(uint64(frameHeaderBytes + len(payload)))
		p.t.stats.framesReceived.Add(1)
		if typ != framePing {
			l.close(fmt.Errorf("%w: %s frame from the acceptor of a Raft connection", ErrUnexpectedFrame, typ))
			return
		}
	}
}

// linkReadError names a read deadline expiry as what it means here.
func linkReadError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: link silent for the idle timeout: %w", ErrIO, err)
	}
	return err
}

// sleepCtx waits for d or for ctx to end, reporting whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
