package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// A link is a connection that passed the handshake: a peer proven to be
// the node it claims, in this cluster, speaking this version.
type link struct {
	conn     net.Conn // *tls.Conn when TLS is on
	r        *bufio.Reader
	peer     uint64
	kind     connKind
	lim      frameLimits // what this side accepts
	checksum bool        // whether this side checksums what it sends
	hdr      [frameHeaderBytes]byte

	closeOnce sync.Once
	done      chan struct{} // closed by close
	err       error         // why the link closed; read after done
	released  chan struct{} // closed when a snapshot receiver lets go of its stream
}

// readBufferBytes is the buffered reader of a link: small frames
// (heartbeats, responses) cost one read syscall per buffer, not per frame,
// while a payload larger than the buffer is read straight into its own
// slice (bufio does that when its buffer is empty), not copied through it.
const readBufferBytes = 16 << 10

func (t *Transport) newLink(conn net.Conn, r *bufio.Reader, peer uint64, kind connKind) *link {
	_, isTLS := conn.(*tls.Conn)
	return &link{
		conn: conn, r: r, peer: peer, kind: kind,
		lim:      frameLimits{maxBytes: t.cfg.MaxFrameBytes, allowNoCheck: isTLS},
		checksum: !isTLS || t.cfg.ChecksumUnderTLS,
		done:     make(chan struct{}),
		released: make(chan struct{}),
	}
}

func (l *link) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *link) markReleased() { close(l.released) }

// waitReleased waits up to d for the link's snapshot stream to be let go.
func (l *link) waitReleased(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.released:
		return true
	case <-t.C:
		return false
	}
}

// close closes the link once, remembering the first reason.
func (l *link) close(err error) {
	l.closeOnce.Do(func() {
		l.err = err
		l.conn.Close()
		close(l.done)
	})
}

// readFrame reads the next frame into a fresh payload (decoded entries
// alias it).
func (l *link) readFrame() (frameType, []byte, error) {
	return readFrame(l.r, &l.hdr, l.lim, nil)
}

// dial connects to peer at addr for kind and runs the dialer's side of the
// handshake.
func (t *Transport) dial(ctx context.Context, peer uint64, addr string, kind connKind) (*link, error) {
	d := net.Dialer{Timeout: t.cfg.DialTimeout, KeepAlive: t.cfg.IdleTimeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: node %d at %s: %w", ErrDial, peer, addr, err)
	}
	conn := raw
	deadline := time.Now().Add(t.cfg.HandshakeTimeout)
	conn.SetDeadline(deadline)
	if t.tls != nil {
		tc := tls.Client(raw, t.tls.clientConfig(peer))
		hctx, cancel := context.WithDeadline(ctx, deadline)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("node %d at %s: %w", peer, addr, classifyTLSError(err))
		}
		conn = tc
	}
	l := t.newLink(conn, bufio.NewReaderSize(conn, readBufferBytes), peer, kind)
	if err := l.dialerHello(t, peer, kind); err != nil {
		conn.Close()
		return nil, fmt.Errorf("node %d at %s: %w", peer, addr, err)
	}
	conn.SetDeadline(time.Time{})
	return l, nil
}

func (l *link) dialerHello(t *Transport, peer uint64, kind connKind) error {
	me := hello{version: ProtocolVersion, cluster: t.cfg.ClusterID, from: t.cfg.NodeID, to: peer, kind: kind}
	if _, err := l.conn.Write(appendFrame(nil, frameHello, appendHello(nil, me), l.checksum)); err != nil {
		return fmt.Errorf("%w: writing hello: %w", ErrIO, err)
	}
	lim := l.lim
	lim.maxBytes = handshakeFrameBytesMax
	typ, p, err := readFrame(l.r, &l.hdr, lim, nil)
	if err != nil {
		var oe *net.OpError
		switch {
		case errors.As(err, &oe) && oe.Op == "remote error":
			// TLS 1.3 lets the client finish before the server checks
			// its certificate: a refusal arrives as an alert on this read.
			return fmt.Errorf("%w: %w", ErrTLSHandshake, err)
		case err == io.EOF:
			return fmt.Errorf("%w: peer closed the connection during the handshake", ErrIO)
		}
		return err
	}
	switch typ {
	case frameReject:
		return decodeReject(p)
	case frameHello:
	default:
		return fmt.Errorf("%w: %s frame in the handshake", ErrUnexpectedFrame, typ)
	}
	h, err := decodeHello(p)
	if err != nil {
		return err
	}
	switch {
	case h.version != ProtocolVersion:
		return fmt.Errorf("%w: peer answered with version %d, this node speaks %d", ErrVersionMismatch, h.version, ProtocolVersion)
	case h.cluster != t.cfg.ClusterID:
		return fmt.Errorf("%w: peer is in cluster %d, this node in %d", ErrClusterMismatch, h.cluster, t.cfg.ClusterID)
	case h.from != peer || h.to != t.cfg.NodeID || h.kind != kind:
		return fmt.Errorf("%w: dialed node %d for %s, answered by node %d for node %d, %s", ErrWrongNode, peer, kind, h.from, h.to, h.kind)
	}
	return nil
}

// bufferedConn reads through the buffered reader that sniffed the first
// byte, so TLS sees every byte the peer sent.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// tlsRecordHandshake is the first byte of every TLS client hello.
const tlsRecordHandshake = 0x16

// accept runs the acceptor's side of the handshake on a new connection.
// On failure the connection is closed, after a reject frame naming the
// reason when the peer can read one.
func (t *Transport) accept(raw net.Conn) (*link, error) {
	raw.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	br := bufio.NewReaderSize(raw, readBufferBytes)
	first, err := br.Peek(1)
	if err != nil {
		raw.Close()
		return nil, readError(err, "first byte of the handshake")
	}
	conn := raw
	switch {
	case t.tls != nil && first[0] == frameMagic0:
		raw.Close()
		return nil, fmt.Errorf("%w: %s sent a raftpipe frame in the clear", ErrPlaintextRefused, raw.RemoteAddr())
	case t.tls != nil:
		tc := tls.Server(&bufferedConn{Conn: raw, r: br}, t.tls.serverConfig())
		if err := tc.Handshake(); err != nil {
			raw.Close()
			return nil, fmt.Errorf("from %s: %w", raw.RemoteAddr(), classifyTLSError(err))
		}
		conn, br = tc, bufio.NewReaderSize(tc, readBufferBytes)
	case first[0] == tlsRecordHandshake:
		raw.Close()
		return nil, fmt.Errorf("%w: %s speaks TLS to a plaintext listener", ErrTLSHandshake, raw.RemoteAddr())
	}
	l := t.newLink(conn, br, 0, 0)
	h, err := l.acceptorHello(t)
	if err != nil {
		if KindOf(err) != KindIO && KindOf(err) != KindTruncatedFrame {
			reject := appendFrame(nil, frameReject, appendReject(nil, KindOf(err), err.Error()), l.checksum)
			conn.Write(reject) // best effort: the peer learns why before the close
		}
		conn.Close()
		return nil, fmt.Errorf("from %s: %w", raw.RemoteAddr(), err)
	}
	l.peer, l.kind = h.from, h.kind
	conn.SetDeadline(time.Time{})
	return l, nil
}

func (l *link) acceptorHello(t *Transport) (hello, error) {
	lim := l.lim
	lim.maxBytes = handshakeFrameBytesMax
	typ, p, err := readFrame(l.r, &l.hdr, lim, nil)
	if err == io.EOF {
		err = fmt.Errorf("%w: peer closed the connection before its hello", ErrTruncatedFrame)
	}
	if err != nil {
		return hello{}, err
	}
	if typ != frameHello {
		return hello{}, fmt.Errorf("%w: %s frame before the hello", ErrUnexpectedFrame, typ)
	}
	h, err := decodeHello(p)
	if err != nil {
		return hello{}, err
	}
	if err := h.check(t.cfg.ClusterID, t.cfg.NodeID); err != nil {
		return hello{}, err
	}
	if tc, ok := l.conn.(*tls.Conn); ok {
		certNode, err := peerNodeID(tc.ConnectionState())
		if err != nil {
			return hello{}, err
		}
		if certNode != h.from {
			return hello{}, fmt.Errorf("%w: peer claims node %d, its certificate names node %d", ErrCertNodeMismatch, h.from, certNode)
		}
	}
	me := hello{version: ProtocolVersion, cluster: t.cfg.ClusterID, from: t.cfg.NodeID, to: h.from, kind: h.kind}
	if _, err := l.conn.Write(appendFrame(nil, frameHello, appendHello(nil, me), l.checksum)); err != nil {
		return hello{}, fmt.Errorf("%w: writing hello: %w", ErrIO, err)
	}
	return h, nil
}
