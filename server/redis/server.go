// Package redis serves the replicated key/value service to Redis clients:
// redis-cli, redis-benchmark and the Redis client libraries, over RESP2
// (server/resp).
//
// Each connection reads whatever requests have arrived (a pipelined
// burst) and handles them in order, cutting the burst into runs of
// consecutive writes and of consecutive reads: a run of writes enters the
// propose ring as one publication (raftpipe.Host.ProposeBatch) and is
// waited on once; a run of reads shares one proof of leadership (a lease
// check or a ReadIndex round). All replies of a burst go out in one write.
// A later command of the burst always sees the effect of an earlier one,
// since a run starts only once the one before it is answered.
//
// Any node accepts any request: kv.Service forwards writes and
// linearizable reads from a follower to the leader. A connection that
// said READONLY reads on the node it is connected to instead, as follower
// reads (the read index from the leader, the value from the local state
// machine once it applied that far): still linearizable.
//
// Errors are Redis': -ERR for a wrong command or argument, -BUSY when a
// group holds as much uncommitted work as it may, -TRYAGAIN when no leader
// is known or the cluster did not answer within the request timeout,
// -NOAUTH and -WRONGPASS. A write is -TRYAGAIN or -BUSY only when it
// surely was not applied, since clients resend those on their own; a
// write that may still commit (it timed out in the leader's log, or the
// connection to the leader was lost with it in flight) is -UNCERTAIN,
// which the caller resolves by reading (errors.go).
package redis

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/raftpipe/raftpipe/kv"
	"github.com/raftpipe/raftpipe/server/resp"
)

// Config is the server's.
type Config struct {
	// MaxBulkBytes is the largest key or value a client may send.
	MaxBulkBytes int
	// PipelineDepth is the most commands of a burst handled together;
	// more wait for the next round.
	PipelineDepth int
	// MaxClients is how many connections are served at once.
	MaxClients int
	// IdleTimeout closes a connection silent this long; 0 never does.
	IdleTimeout time.Duration
	// RequirePass, if set, is the password of AUTH.
	RequirePass string
	// RequestTimeout bounds how long a run of a burst waits on the
	// cluster; 2 s if 0. Keep it below the clients' read timeouts
	// (go-redis: 3 s by default): a client that times out first may send
	// a write again on its own (go-redis does), and the write it gave up
	// on may still commit, so it would be applied twice.
	RequestTimeout time.Duration
	// TLS, if set, serves TLS.
	TLS *tls.Config
	// Registerer, if set, receives the server's metrics.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Server serves Redis clients for one node.
type Server struct {
	svc     *kv.Service
	cfg     Config
	log     *slog.Logger
	limits  resp.Limits
	metrics *serverMetrics
	cursors *cursorTable
	started time.Time

	// runBytesMax bounds the bytes of a run's commands, so that a
	// follower can forward it as one request (Host.ForwardBytesMax): a
	// pipelined burst larger than that is sent as several runs rather
	// than refused whole.
	runBytesMax int

	// runs is the parent of every run's context. Shutdown cancels it when
	// its own ctx ends, so that runs still waiting on the cluster end then
	// rather than at their RequestTimeout. It spans the server's life, not
	// a request's, which is why it is kept here, as net/http's
	// Server.BaseContext is.
	runs       context.Context
	cancelRuns context.CancelFunc

	nextID   atomic.Uint64
	clients  atomic.Int64
	refusing atomic.Int64 // connections refused at MaxClients and still open

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	refused   map[net.Conn]struct{}
	closing   bool
	wg        sync.WaitGroup // connections served or being refused
}

// forwardHeaderBytes is what a forwarded request takes beside its
// commands' own bytes and length prefixes (kv/forward.go).
const forwardHeaderBytes = 2 + 3*binary.MaxVarintLen64

// requestTimeoutDefault is Config.RequestTimeout's default: below
// go-redis' default read timeout of 3 s, so that a write the cluster
// cannot commit gets the server's -UNCERTAIN before the client gives up
// and sends it again.
const requestTimeoutDefault = 2 * time.Second

// NewServer returns a server of svc.
func NewServer(svc *kv.Service, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PipelineDepth < 1 {
		cfg.PipelineDepth = 1024
	}
	if cfg.MaxClients < 1 {
		cfg.MaxClients = 10000
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = requestTimeoutDefault
	}
	lim := resp.Limits{BulkBytesMax: cfg.MaxBulkBytes}
	if cfg.MaxBulkBytes > resp.DefaultCommandBytesMax/2 {
		lim.CommandBytesMax = 2 * cfg.MaxBulkBytes
	}
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	m, err := newServerMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	runs, cancelRuns := context.WithCancel(context.Background())
	return &Server{
		svc: svc, cfg: cfg, log: cfg.Logger, limits: lim, metrics: m, cursors: newCursorTable(cursorsMax, cursorBytesMax),
		runBytesMax: svc.Host().ForwardBytesMax() - forwardHeaderBytes, runs: runs, cancelRuns: cancelRuns,
		started: time.Now(), listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}, refused: map[net.Conn]struct{}{},
	}, nil
}

// ErrServerClosed is what Serve returns after Shutdown.
var ErrServerClosed = errors.New("redis: server closed")

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors, say: wait and try again, as
				// net/http does, rather than spin or give up.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("redis: accept failed; retrying", "err", err, "in", backoff)
				<-time.After(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if s.clients.Add(1) > int64(s.cfg.MaxClients) {
			s.clients.Add(-1)
			s.metrics.rejected.Inc()
			if err := s.startRefusal(nc); err != nil {
				return err
			}
			continue
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			s.clients.Add(-1)
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.metrics.clients.Inc()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.clients.Add(-1)
			s.metrics.clients.Dec()
		}()
	}
}

// Shutdown stops accepting, lets each connection finish the burst it is
// handling and send its replies, then closes it; it returns when all are
// closed or ctx ends (the rest are then closed at once, and their runs
// still waiting on the cluster are abandoned: a write among them may
// still commit).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.stop()
	}
	for nc := range s.refused {
		nc.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancelRuns()
		return nil
	case <-ctx.Done():
		s.cancelRuns()
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// The refusal of a connection over MaxClients. Redis writes its error and
// closes at once; but a client that spoke first (go-redis sends HELLO as
// soon as it connects) then has its request unread in the server's
// socket, the close sends a reset, and the client reads "connection reset"
// or "broken pipe" instead of the reason. So a refused connection is kept
// open a little while, answering every request with the error: the
// client reads the reason whatever it sent, and go-redis, which takes an
// error to HELLO as "no RESP3" and goes on, reads it as the answer to its
// command (and retries it later, as it does for this error).
const (
	// refusalLinger is how long a refused connection is kept open.
	refusalLinger = time.Second
	// refusingMax bounds the refused connections kept open at once; the
	// ones beyond it are closed at once, as Redis does.
	refusingMax = 64
	// refusalBytesMax bounds a refused client's request.
	refusalBytesMax = 64 << 10
)

var errMaxClients = resp.AppendError(nil, "ERR", "max number of clients reached")

// startRefusal refuses nc, a connection over MaxClients; it fails only
// when the server is shutting down.
func (s *Server) startRefusal(nc net.Conn) error {
	if s.refusing.Add(1) > refusingMax {
		s.refusing.Add(-1)
		nc.SetWriteDeadline(time.Now().Add(refusalLinger))
		nc.Write(errMaxClients)
		nc.Close()
		return nil
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.refusing.Add(-1)
		nc.Close()
		return ErrServerClosed
	}
	s.refused[nc] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.refuse(nc)
		s.mu.Lock()
		delete(s.refused, nc)
		s.mu.Unlock()
		s.refusing.Add(-1)
	}()
	return nil
}

// refuse answers everything nc sends with the max-clients error, for
// refusalLinger at most, then closes it.
func (s *Server) refuse(nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(refusalLinger))
	if _, err := nc.Write(errMaxClients); err != nil {
		return
	}
	r := resp.NewReader(nc, resp.Limits{CommandBytesMax: refusalBytesMax})
	var out []byte
	for {
		cmds, err := r.ReadBatch(0)
		out = out[:0]
		for range cmds {
			out = append(out, errMaxClients...)
		}
		if len(out) > 0 {
			if _, err := nc.Write(out); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
