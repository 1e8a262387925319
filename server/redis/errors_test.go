package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/raftpipe/raftpipe"
)

// TestNoQuorum stops two of three nodes. A write the leader can no longer
// commit is answered within the request timeout rather than hanging, and
// not with -TRYAGAIN: Redis clients (go-redis among them) take -TRYAGAIN
// as "not executed" and send the command again, but the write is in the
// leader's log and commits once a majority is back, as the end of the
// test shows. The server and go-redis run with their defaults: the
// server must answer before go-redis' read timeout, which go-redis also
// retries. Once the leader has stepped down, a write is refused before it
// enters the log, and that is -TRYAGAIN.
func TestNoQuorum(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps with the other parallel tests
	// Elections after 0.5 to 1 s: long enough that the leader still leads
	// when the write below reaches it, after two nodes were stopped.
	c := newTunedCluster(t, 3, Config{}, func(cfg *raftpipe.Config) {
		cfg.Raft.ElectionTicks = 100
		cfg.Raft.LeaseDriftTicks = 15
	})
	ctx := t.Context()
	ld := c.waitLeaderKnown()
	// go-redis as deployed: its default timeouts and retries.
	cl := c.client(ld, func(o *goredis.Options) { *o = goredis.Options{Addr: o.Addr} })
	if err := cl.Set(ctx, "nq:warm", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var stopped []int
	for i := range c.nodes {
		if i != ld {
			c.stop(i)
			stopped = append(stopped, i)
		}
	}

	h := c.nodes[ld].h
	before := h.Stats().Stages.Batch.Items
	start := time.Now()
	err := cl.Incr(ctx, "nq:n").Err()
	took := time.Since(start)
	proposed := h.Stats().Stages.Batch.Items - before
	t.Logf("INCR without a quorum: %v after %s, %d proposals", err, took, proposed)
	if proposed == 0 {
		t.Fatalf("the INCR was never proposed (%v): the leader stepped down too early for this test", err)
	}
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		t.Fatalf("INCR without a quorum: %v, want a server error", err)
	}
	if !strings.HasPrefix(err.Error(), "UNCERTAIN ") {
		t.Errorf("INCR that timed out in the leader's log: %v, want -UNCERTAIN (the write may still commit)", err)
	}
	if proposed > 1 {
		t.Errorf("the INCR was proposed %d times: the client was told to retry a write that may commit", proposed)
	}

	// Once the leader steps down, nothing enters the log: -TRYAGAIN, for
	// writes and reads alike, at once.
	eventually(t, "the leader steps down without a quorum", func() (bool, string) {
		st := c.status(ld)
		return st.Role != raftpipe.Leader, st.Role.String()
	})
	raw := c.client(ld, noRetry)
	wantErrPrefix(t, "SET without a leader", raw.Set(ctx, "nq:later", "1", 0).Err(), "TRYAGAIN ")
	wantErrPrefix(t, "GET without a leader", raw.Get(ctx, "nq:n").Err(), "TRYAGAIN ")

	// A majority again: the INCR that timed out commits, once.
	c.restart(stopped[0])
	c.waitLeaderKnown()
	var v string
	eventually(t, "reading nq:n", func() (bool, string) {
		v, err = raw.Get(ctx, "nq:n").Result()
		return err == nil, fmt.Sprint(err)
	})
	if v != "1" {
		t.Errorf("nq:n = %q after one INCR, want 1", v)
	}
	if err := raw.Get(ctx, "nq:later").Err(); !errors.Is(err, goredis.Nil) {
		t.Errorf("the SET refused with -TRYAGAIN: GET = %v, want nil", err)
	}
}

// TestLeaderDiesUnderFollower stops the leader while a client writes
// through a follower: the follower answers -TRYAGAIN while it cannot
// reach a leader (its dial fails: nothing was sent), so go-redis retries
// on its own until a new leader is elected, and each write is applied
// exactly once.
func TestLeaderDiesUnderFollower(t *testing.T) {
	c := newTestCluster(t, 3, Config{})
	ctx := t.Context()
	ld := c.waitLeaderKnown()
	f := c.follower()
	// Through the leader: the follower has no call connection to it yet,
	// so its first forward after the stop dials, and fails to.
	if err := c.client(ld).Set(ctx, "ld:n", "0", 0).Err(); err != nil {
		t.Fatal(err)
	}
	raw := c.client(f, noRetry)
	c.stop(ld)
	// Until the election, a write on the follower is refused, not
	// uncertain.
	err := raw.Incr(ctx, "ld:n").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "TRYAGAIN ") {
		t.Errorf("INCR on a follower of a stopped leader: %v, want -TRYAGAIN", err)
	}
	applied := 0
	if err == nil {
		applied++
	}
	// go-redis, retrying -TRYAGAIN with its backoff, gets through once a
	// leader is elected (elections take 150 to 300 ms here).
	retrying := c.client(f, func(o *goredis.Options) {
		o.MaxRetries = 50
		o.MaxRetryBackoff = 50 * time.Millisecond
	})
	for range 5 {
		if err := retrying.Incr(ctx, "ld:n").Err(); err != nil {
			t.Fatalf("INCR through a follower across the election: %v", err)
		}
		applied++
	}
	if v, err := retrying.Get(ctx, "ld:n").Result(); err != nil || v != fmt.Sprint(applied) {
		t.Errorf("ld:n = %q, %v after %d acknowledged INCRs", v, err, applied)
	}
}

// TestReplyErrorKinds checks the Redis error of each framework error, as
// a client decides by its prefix whether to send the command again: only
// what surely did not happen is -TRYAGAIN (or -BUSY) for a write.
func TestReplyErrorKinds(t *testing.T) {
	notLeader := &raftpipe.NotLeaderError{Group: 1, Leader: 0}
	cases := []struct {
		err         error
		read, write string // the reply's prefix
	}{
		{notLeader, "TRYAGAIN", "TRYAGAIN"},
		{fmt.Errorf("x: %w", raftpipe.ErrProposalDropped), "TRYAGAIN", "TRYAGAIN"},
		{raftpipe.ErrBusy, "BUSY", "BUSY"},
		{fmt.Errorf("kv: forward to leader 2: %w", raftpipe.ErrPeerBusy), "TRYAGAIN", "TRYAGAIN"},
		{raftpipe.ErrNoLease, "TRYAGAIN", "TRYAGAIN"},
		{raftpipe.ErrTimeout, "TRYAGAIN", "UNCERTAIN"},
		{fmt.Errorf("w: %w", context.DeadlineExceeded), "TRYAGAIN", "UNCERTAIN"},
		{fmt.Errorf("kv: forward to leader 2: %w", raftpipe.ErrUnreachable), "TRYAGAIN", "UNCERTAIN"},
		{fmt.Errorf("kv: forward to leader 2: %w: node 2: the call connection closed before an answer: %w",
			raftpipe.ErrUnreachable, &net.OpError{Op: "read", Net: "tcp", Err: io.EOF}), "TRYAGAIN", "UNCERTAIN"},
		{fmt.Errorf("kv: forward to leader 2: %w: %w: transport: dial failed: %w",
			raftpipe.ErrNotSent, raftpipe.ErrUnreachable, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), "TRYAGAIN", "TRYAGAIN"},
		{fmt.Errorf("kv: forward to leader 2: %w", raftpipe.ErrRemote), "ERR", "UNCERTAIN"},
		{raftpipe.ErrStopped, "ERR", "UNCERTAIN"},
		{fmt.Errorf("kv: forward to leader 2: %w", raftpipe.ErrRequestTooLarge), "ERR", "ERR"},
		{errSyntax, "ERR", "ERR"},
	}
	for _, tc := range cases {
		for _, k := range []kind{kindRead, kindWrite} {
			want := tc.read
			if k == kindWrite {
				want = tc.write
			}
			got := string(appendRunErr(nil, k, tc.err))
			if !strings.HasPrefix(got, "-"+want+" ") || !strings.HasSuffix(got, "\r\n") || strings.Count(got, "\r\n") != 1 {
				t.Errorf("%v as a %s error: %q, want -%s", tc.err, map[kind]string{kindRead: "read", kindWrite: "write"}[k], got, want)
			}
		}
	}
}

// TestLargeBurstsOnFollower pipelines more bytes through a follower than
// one forwarded request or response may carry: the server cuts the
// burst's writes into requests that fit, and reads again in parts what
// does not fit in one response, so every command is answered as it would
// be on the leader.
func TestLargeBurstsOnFollower(t *testing.T) {
	const frame = 64 << 10 // the least the transport allows
	c := newTunedCluster(t, 3, Config{}, func(cfg *raftpipe.Config) {
		cfg.Transport.MaxFrameBytes = frame
		cfg.Transport.SnapshotChunkBytes = 16 << 10
		cfg.Raft.MsgBytesMax = 16 << 10
	})
	ctx := t.Context()
	f := c.follower()
	value := func(i int) string { return fmt.Sprintf("%d:%s", i, strings.Repeat("v", 5<<10)) }
	const n = 40 // 200 KiB: three frames

	// The reader's buffer grows for a large command and stays grown a
	// while, so that the burst after it is read, and handled, at once.
	rc := c.dial(f)
	rc.sendCommand("ECHO", strings.Repeat("e", 200<<10))
	if got := rc.reply(); len(got) != 200<<10 {
		t.Fatalf("ECHO of 200 KiB: %d bytes back", len(got))
	}
	var burst strings.Builder
	for i := range n {
		fmt.Fprintf(&burst, "*3\r\n$3\r\nSET\r\n$%d\r\nbig:%d\r\n$%d\r\n%s\r\n", len(fmt.Sprintf("big:%d", i)), i, len(value(i)), value(i))
	}
	rc.send(burst.String())
	for i := range n {
		if got := rc.reply(); got != "+OK" {
			t.Errorf("SET %d of a %d KiB burst on a follower: %q", i, burst.Len()>>10, got)
		}
	}

	// Reads of as many bytes, forwarded too, through go-redis.
	cl := c.client(f, noRetry)
	pipe := cl.Pipeline()
	gets := make([]*goredis.StringCmd, n)
	for i := range n {
		gets[i] = pipe.Get(ctx, fmt.Sprintf("big:%d", i))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("a burst of %d GETs of %d bytes on a follower: %v", n, len(value(0)), err)
	}
	for i, g := range gets {
		if g.Val() != value(i) {
			t.Errorf("GET big:%d: %d bytes, %v", i, len(g.Val()), g.Err())
		}
	}
	// A command larger than a forwarded request can carry is refused,
	// and nothing was written.
	huge := strings.Repeat("h", frame)
	wantErrPrefix(t, "SET of more than a frame on a follower", cl.Set(ctx, "big:huge", huge, 0).Err(), "ERR ")
	if err := c.client(c.waitLeaderKnown()).Get(ctx, "big:huge").Err(); !errors.Is(err, goredis.Nil) {
		t.Errorf("GET big:huge = %v, want nil", err)
	}
}
