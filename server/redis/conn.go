package redis

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/server/resp"
)

// conn is one client connection: its reader, the replies of the burst
// being handled, and its session (AUTH, READONLY, its name).
type conn struct {
	s  *Server
	nc net.Conn
	id uint64
	r  *resp.Reader
	// out holds the burst's replies, written with one syscall.
	out []byte

	authed bool
	quit   bool
	// readonly and name are what CLIENT LIST, on another connection's
	// goroutine, shows of this one. Only this connection's goroutine
	// writes them, under sessionMu (setSession): it reads them freely,
	// any other goroutine under sessionMu.
	sessionMu sync.Mutex
	readonly  bool // READONLY: reads are follower reads, served here
	name      string
	stopping  atomic.Bool // Shutdown: finish this burst, then close

	// run is the run of consecutive writes or reads of the burst not yet
	// sent to the cluster.
	run run
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{s: s, nc: nc, id: s.nextID.Add(1), r: resp.NewReader(nc, s.limits), authed: s.cfg.RequirePass == ""}
}

// stop asks the connection to close after its current burst; one waiting
// for a request is woken by a read deadline in the past.
func (c *conn) stop() {
	c.stopping.Store(true)
	c.nc.SetReadDeadline(time.Now())
}

func (c *conn) serve() {
	defer c.nc.Close()
	for !c.quit && !c.stopping.Load() {
		if c.s.cfg.IdleTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
			// stop may have set its deadline in the past just before this
			// one replaced it; look again, or the connection would wait
			// out its idle timeout and hold Shutdown up that long.
			if c.stopping.Load() {
				return
			}
		}
		cmds, err := c.r.ReadBatch(c.s.cfg.PipelineDepth)
		// Commands read before an error are handled first, as Redis does.
		c.handle(cmds)
		if err != nil {
			var pe *resp.ProtocolError
			if errors.As(err, &pe) {
				c.out = resp.AppendError(c.out, "ERR", pe.Msg)
				c.s.log.Debug("redis: protocol error; closing", "client", c.nc.RemoteAddr().String(), "err", err)
			}
			if c.flush() == nil && pe != nil {
				c.drain()
			}
			if !errors.Is(err, io.EOF) && pe == nil && !c.stopping.Load() && !isTimeout(err) {
				c.s.log.Debug("redis: connection failed", "client", c.nc.RemoteAddr().String(), "err", err)
			}
			return
		}
		if err := c.flush(); err != nil {
			return
		}
	}
}

// After a protocol error the rest of what the client sends is unread
// (an oversized value, say, whose header was refused): closing at once
// would reset the connection, and a client still writing would get
// "connection reset" instead of the error it was sent. So the connection
// is half-closed after the error, and what follows is read and dropped,
// for drainLinger and drainBytesMax at most, before it is closed. Shutdown
// cuts the wait short.
const (
	drainLinger   = time.Second
	drainBytesMax = 16 << 20
)

// drain half-closes the connection and reads and drops what the client
// still sends; see drainLinger.
func (c *conn) drain() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(drainLinger))
	if c.stopping.Load() { // stop's deadline may have just been replaced
		return
	}
	io.Copy(io.Discard, io.LimitReader(c.nc, drainBytesMax))
}

// setSession sets the connection's name and READONLY mode; see sessionMu.
func (c *conn) setSession(name string, readonly bool) {
	c.sessionMu.Lock()
	c.name, c.readonly = name, readonly
	c.sessionMu.Unlock()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.RequestTimeout))
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	if cap(c.out) > 1<<20 {
		c.out = nil // a burst of large replies: do not keep its buffer
	}
	return err
}

// handle answers a burst in order: local commands at once, writes and
// reads in runs, each run sent to the cluster when a command of another
// kind (or the end of the burst) follows it.
func (c *conn) handle(cmds []resp.Command) {
	for _, cmd := range cmds {
		if c.quit {
			break
		}
		spec, name, errReply := c.lookup(cmd.Args)
		c.s.metrics.command(name)
		if errReply != nil {
			c.finishRun()
			c.out = append(c.out, errReply...)
			continue
		}
		if spec.kind == kindLocal {
			c.finishRun()
			c.out = spec.local(c, cmd.Args, c.out)
			continue
		}
		op, err := spec.build(c, cmd.Args)
		if err != nil {
			c.finishRun()
			c.out = appendErr(c.out, err)
			continue
		}
		group := c.s.svc.Router().GroupOf(op.key)
		cost := len(op.item) + binary.MaxVarintLen64
		if c.run.len() > 0 && (c.run.kind != spec.kind || c.run.group != group || c.run.bytes+cost > c.s.runBytesMax) {
			c.finishRun()
		}
		c.run.kind, c.run.group = spec.kind, group
		c.run.add(op, spec, cost)
	}
	c.finishRun()
}

// finishRun sends the pending run to the cluster and appends its replies.
func (c *conn) finishRun() {
	r := &c.run
	if r.len() == 0 {
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(c.s.runs, c.s.cfg.RequestTimeout)
	var outs []raftpipe.Outcome
	var err error
	if r.kind == kindWrite {
		outs, err = c.s.svc.Write(ctx, r.group, r.items)
	} else {
		mode := raftpipe.Linearizable
		if c.readonly {
			mode = raftpipe.FollowerRead
		}
		outs, err = c.read(ctx, r.group, r.items, mode)
	}
	cancel()
	for i, spec := range r.specs {
		switch {
		case err != nil:
			c.out = appendRunErr(c.out, r.kind, err)
		case outs[i].Err != nil:
			c.out = appendRunErr(c.out, r.kind, outs[i].Err)
		default:
			c.out = spec.reply(c, r.ops[i], outs[i].Result, c.out)
		}
	}
	c.s.metrics.observe(r.kind, r.len(), time.Since(start))
	r.reset()
}

// read answers a run of queries. A follower forwards the run to the
// leader as one request, whose answer must fit in one forwarded response
// (Host.ForwardBytesMax): a run whose values are larger in all fails as
// ErrRemote, so it is read again in halves, down to single queries. Only
// reads are split after the fact; they may be repeated, writes may not
// (their runs are cut beforehand, see runBytesMax).
func (c *conn) read(ctx context.Context, group uint64, queries [][]byte, mode raftpipe.ReadMode) ([]raftpipe.Outcome, error) {
	outs, err := c.s.svc.Read(ctx, group, queries, mode)
	if err == nil || len(queries) < 2 || !errors.Is(err, raftpipe.ErrRemote) {
		return outs, err
	}
	half := len(queries) / 2
	outs = make([]raftpipe.Outcome, 0, len(queries))
	for _, part := range [][][]byte{queries[:half], queries[half:]} {
		o, err := c.read(ctx, group, part, mode)
		if err != nil {
			o = make([]raftpipe.Outcome, len(part))
			for i := range o {
				o[i].Err = err
			}
		}
		outs = append(outs, o...)
	}
	return outs, nil
}

// run is a run of writes or reads of one group.
type run struct {
	kind  kind
	group uint64
	items [][]byte // the kv commands or queries
	ops   []op
	specs []*spec
	// bytes is what the items take in a forwarded request, at most
	// Server.runBytesMax unless a single item takes more.
	bytes int
}

func (r *run) len() int { return len(r.items) }

func (r *run) add(o op, s *spec, cost int) {
	r.items = append(r.items, o.item)
	r.ops = append(r.ops, o)
	r.specs = append(r.specs, s)
	r.bytes += cost
}

func (r *run) reset() {
	clear(r.items)
	clear(r.ops)
	clear(r.specs)
	r.items, r.ops, r.specs = r.items[:0], r.ops[:0], r.specs[:0]
	r.bytes = 0
}
