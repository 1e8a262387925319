package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"sync/atomic"
)

// Handler receives what arrives and learns what became of what was sent.
// HandleMessages is called from one goroutine; the others may be called
// from any transport goroutine at once, and must not block for long. A
// Handler that also implements CallHandler serves peers' calls.
type Handler interface {
	// HandleMessages receives the decoded messages of one frame, in the
	// order each sending node sent them. It is called from the receiving
	// goroutines of every connection, so concurrently across peers; while
	// it blocks, that connection reads no more (back-pressure down to
	// TCP). The slice and everything in it are the handler's to keep:
	// nothing of it is reused.
	HandleMessages(batch []Msg)
	// HandleSnapshot receives a snapshot stream that arrived whole and
	// verified: the file is the handler's to keep or remove. An error
	// tells the sender the snapshot was not installed.
	HandleSnapshot(s ReceivedSnapshot) error
	// Unreachable says that messages to node were lost: its connection
	// broke or could not be made. Consensus stops pipelining to it.
	Unreachable(node uint64)
	// SnapshotStatus reports how a SendSnapshot ended.
	SnapshotStatus(group, node uint64, ok bool)
}

// Transport connects this node to its peers. Create it with New; it
// listens at once and dials peers as messages for them arrive.
type Transport struct {
	cfg   Config
	log   *slog.Logger
	tls   *tlsMaterial
	ln    net.Listener
	stats counters

	peersMu sync.Mutex                       // serializes changes to peers
	peers   atomic.Pointer[map[uint64]*peer] // copy on write: Send reads it without a lock

	linksMu sync.Mutex
	links   map[*link]struct{} // accepted links, closed by Close

	snap  *snapshots
	calls callServer

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// New validates cfg, listens on cfg.ListenAddr and starts the transport.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.fillDefaults()
	t := &Transport{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeID), links: map[*link]struct{}{}}
	if cfg.TLS != nil {
		m, err := loadTLS(*cfg.TLS, cfg.NodeID)
		if err != nil {
			return nil, err
		}
		t.tls = m
	}
	t.snap = newSnapshots(t)
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen on %s: %w", cfg.ListenAddr, err)
	}
	t.ln = ln
	t.ctx, t.cancel = context.WithCancel(context.Background())
	empty := map[uint64]*peer{}
	t.peers.Store(&empty)
	for id, addr := range cfg.Peers {
		t.AddPeer(id, addr)
	}
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// Addr is the address the transport listens on.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Stats returns the counters.
func (t *Transport) Stats() Stats { return t.stats.snapshot() }

// AddPeer sets node's address, replacing an older one (its connection is
// then remade).
func (t *Transport) AddPeer(node uint64, addr string) error {
	if node == 0 || node == t.cfg.NodeID || addr == "" {
		return fmt.Errorf("%w: peer %d at %q", ErrInvalidConfig, node, addr)
	}
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	old := *t.peers.Load()
	if p := old[node]; p != nil {
		if p.addr == addr {
			return nil
		}
		p.stop()
	}
	next := maps.Clone(old)
	p, err := t.newPeer(node, addr)
	if err != nil {
		return err
	}
	next[node] = p
	t.peers.Store(&next)
	return nil
}

// RemovePeer forgets node: its connection closes and messages to it are
// dropped.
func (t *Transport) RemovePeer(node uint64) {
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	old := *t.peers.Load()
	p := old[node]
	if p == nil {
		return
	}
	next := maps.Clone(old)
	delete(next, node)
	t.peers.Store(&next)
	p.stop()
}

func (t *Transport) peer(node uint64) *peer { return (*t.peers.Load())[node] }

// Send queues messages for their destinations and returns at once. A run
// of messages to one node is queued as one batch, so the heartbeats of a
// tick sent together travel as one frame. Messages whose peer is unknown
// or down, or whose queue is full, are dropped and counted: Raft retries.
// MsgSnap must go through SendSnapshot, which carries the data.
func (t *Transport) Send(batch []Msg) {
	for len(batch) > 0 {
		n := 1
		for n < len(batch) && batch[n].To == batch[0].To {
			n++
		}
		run := batch[:n]
		batch = batch[n:]
		p := t.peer(run[0].To)
		if p == nil || t.closed.Load() {
			t.stats.messagesDropped.Add(uint64(len(run)))
			continue
		}
		p.enqueue(run)
	}
}

// Close stops everything: the listener, every connection and stream, and
// the delivery of inbound messages. Messages still queued are dropped.
func (t *Transport) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	t.ln.Close()
	t.cancel()
	t.peersMu.Lock()
	for _, p := range *t.peers.Load() {
		p.stop()
	}
	t.peersMu.Unlock()
	t.linksMu.Lock()
	for l := range t.links {
		l.close(ErrClosed)
	}
	t.linksMu.Unlock()
	t.snap.close()
	t.wg.Wait()
	return nil
}

// countError counts err by kind and logs it with what was happening.
func (t *Transport) countError(err error, msg string, args ...any) {
	k := KindOf(err)
	t.stats.errors[k].Add(1)
	t.log.Warn(msg, append(args, "kind", k.String(), "err", err)...)
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			if t.closed.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			t.log.Error("accept failed; not accepting any more connections", "err", err)
			return
		}
		t.wg.Add(1)
		go t.serve(conn)
	}
}

// serve runs the handshake on an accepted connection and then its reader.
func (t *Transport) serve(conn net.Conn) {
	defer t.wg.Done()
	l, err := t.accept(conn)
	if err != nil {
		t.countError(err, "refused a connection", "remote", conn.RemoteAddr().String())
		return
	}
	if !t.track(l) {
		return
	}
	defer t.untrack(l)
	t.stats.accepted.Add(1)
	switch l.kind {
	case connRaft:
		err = t.readRaft(l)
	case connSnapshot:
		err = t.snap.receive(l)
	case connCall:
		err = t.serveCalls(l)
	}
	l.close(err)
	if err = l.err; err != nil && !t.closed.Load() { // the first cause, from whichever goroutine
		t.countError(err, "closed an inbound connection", "peer", l.peer, "conn", l.kind.String())
	}
}

func (t *Transport) track(l *link) bool {
	t.linksMu.Lock()
	defer t.linksMu.Unlock()
	if t.closed.Load() {
		l.close(ErrClosed)
		return false
	}
	t.links[l] = struct{}{}
	return true
}

func (t *Transport) untrack(l *link) {
	t.linksMu.Lock()
	delete(t.links, l)
	t.linksMu.Unlock()
}
