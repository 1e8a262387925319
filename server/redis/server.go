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
// is known or the cluster did not answer within the request timeout (a
// write that timed out may still commit), -NOAUTH and -WRONGPASS.
package redis

import (
	"context"
	"crypto/tls"
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
	// cluster.
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

	nextID  atomic.Uint64
	clients atomic.Int64

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   bool
	wg        sync.WaitGroup
}

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
		cfg.RequestTimeout = 5 * time.Second
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
	return &Server{
		svc: svc, cfg: cfg, log: cfg.Logger, limits: lim, metrics: m, cursors: newCursorTable(cursorsMax),
		started: time.Now(), listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{},
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
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			nc.Write(resp.AppendError(nil, "ERR", "max number of clients reached"))
			nc.Close()
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
// closed or ctx ends (the rest are then closed at once).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.stop()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
