package redis

import (
	"context"
	"errors"
	"io"
	"net"
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

	authed   bool
	readonly bool // READONLY: reads are follower reads, served here
	name     string
	quit     bool
	stopping atomic.Bool // Shutdown: finish this burst, then close

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
			c.flush()
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
		if c.run.len() > 0 && (c.run.kind != spec.kind || c.run.group != group) {
			c.finishRun()
		}
		c.run.kind, c.run.group = spec.kind, group
		c.run.add(op, spec)
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
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.RequestTimeout)
	var outs []raftpipe.Outcome
	var err error
	if r.kind == kindWrite {
		outs, err = c.s.svc.Write(ctx, r.group, r.items)
	} else {
		mode := raftpipe.Linearizable
		if c.readonly {
			mode = raftpipe.FollowerRead
		}
		outs, err = c.s.svc.Read(ctx, r.group, r.items, mode)
	}
	cancel()
	for i, spec := range r.specs {
		switch {
		case err != nil:
			c.out = appendErr(c.out, err)
		case outs[i].Err != nil:
			c.out = appendErr(c.out, outs[i].Err)
		default:
			c.out = spec.reply(c, r.ops[i], outs[i].Result, c.out)
		}
	}
	c.s.metrics.observe(r.kind, r.len(), time.Since(start))
	r.reset()
}

// run is a run of writes or reads of one group.
type run struct {
	kind  kind
	group uint64
	items [][]byte // the kv commands or queries
	ops   []op
	specs []*spec
}

func (r *run) len() int { return len(r.items) }

func (r *run) add(o op, s *spec) {
	r.items = append(r.items, o.item)
	r.ops = append(r.ops, o)
	r.specs = append(r.specs, s)
}

func (r *run) reset() {
	clear(r.items)
	clear(r.ops)
	clear(r.specs)
	r.items, r.ops, r.specs = r.items[:0], r.ops[:0], r.specs[:0]
}
