package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe"
)

// TestShutdownIdleAndBusy shuts a server down while some connections are
// idle and others send PINGs as fast as they can: Shutdown returns nil,
// every connection is closed after whole replies, Serve returns
// ErrServerClosed, no server goroutine is left, and the server accepts
// nothing more.
func TestShutdownIdleAndBusy(t *testing.T) {
	// A long idle timeout: a connection that missed Shutdown's wake-up
	// would hold it up that long.
	c := newTestCluster(t, 1, Config{IdleTimeout: time.Minute})
	ctx := t.Context()
	cl := c.client(0)
	if err := cl.Set(ctx, "sd:k", "1", 0).Err(); err != nil { // a pooled, idle connection
		t.Fatal(err)
	}
	idle := c.dial(0)
	idle.sendCommand("PING")
	if got := idle.reply(); got != "+PONG" {
		t.Fatal(got)
	}
	half := c.dial(0) // idle in the middle of a command
	half.send("*2\r\n$3\r\nGET\r\n")

	const busy = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	pongs := 0
	started := make(chan struct{}, busy)
	for range busy {
		rc := c.dial(0)
		wg.Go(func() {
			for i := 0; ; i++ {
				if _, err := rc.nc.Write([]byte("PING\r\nPING\r\n")); err != nil {
					return
				}
				for range 2 {
					got, err := rc.readReply()
					if err != nil {
						return // closed: between whole replies
					}
					if got != "+PONG" {
						t.Errorf("busy connection read %q", got)
						return
					}
					mu.Lock()
					pongs++
					mu.Unlock()
				}
				if i == 0 {
					started <- struct{}{}
				}
			}
		})
	}
	for range busy {
		<-started
	}
	if err := c.shutdownServer(0); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	idle.expectClosed()
	half.expectClosed()
	t.Logf("%d PONGs before the shutdown", pongs)
	if _, err := net.Dial("tcp", c.nodes[0].addr); err == nil {
		t.Error("the server accepts connections after Shutdown")
	}
	waitNoServerGoroutines(t)
}

// TestShutdownServeAfter checks that Serve refuses to start once the
// server was shut down, and closes the listener it was given.
func TestShutdownServeAfter(t *testing.T) {
	c := newTestCluster(t, 1, Config{})
	srv := c.nodes[0].srv
	if err := c.shutdownServer(0); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("the listener is still open")
	}
	// Shutdown again is harmless.
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Errorf("a second Shutdown: %v", err)
	}
}

// TestShutdownDuringRun shuts servers down while a connection waits on the
// cluster, which cannot commit: the leader's followers are stopped.
// Gracefully, the connection gets the replies of its whole burst before
// it is closed; forced (Shutdown's ctx ends first), Shutdown returns at
// once instead of waiting out the run's RequestTimeout.
func TestShutdownDuringRun(t *testing.T) {
	const requestTimeout = 400 * time.Millisecond
	// Elections after 0.5 to 1 s: the leader leads on, without its
	// followers, through what follows.
	c := newTunedCluster(t, 3, Config{RequestTimeout: requestTimeout}, func(cfg *raftpipe.Config) {
		cfg.Raft.ElectionTicks = 100
		cfg.Raft.LeaseDriftTicks = 15
	})
	ld := c.waitLeaderKnown()
	nd := c.nodes[ld]
	for i := range c.nodes {
		if i != ld {
			c.stop(i)
		}
	}
	// waitProposed sends req on a new connection to addr and waits until
	// the leader has a proposal more: the server is in the run.
	waitProposed := func(addr, req string) *rawConn {
		t.Helper()
		before := nd.h.Stats().Stages.Batch.Items
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(waitMax))
		rc := &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
		rc.send(req)
		eventually(t, "the write reaches the leader's pipeline", func() (bool, string) {
			n := nd.h.Stats().Stages.Batch.Items - before
			return n > 0, fmt.Sprintf("%d proposals", n)
		})
		if st := c.status(ld); st.Role != raftpipe.Leader {
			t.Fatalf("node %d stepped down (%s) too early for this test", nd.id, st.Role)
		}
		return rc
	}

	// Forced: a server whose runs wait an hour.
	long, err := NewServer(nd.svc, Config{RequestTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- long.Serve(ln) }()
	stuck := waitProposed(ln.Addr().String(), "SET sd:forced 1\r\n")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	returned := make(chan error, 1)
	go func() { returned <- long.Shutdown(ctx) }()
	select {
	case err := <-returned:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("forced Shutdown: %v, want its ctx's error", err)
		}
	case <-time.After(waitMax):
		t.Fatal("Shutdown did not return when its ctx ended: it waits for a run the cluster cannot finish")
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	stuck.expectClosed()

	// Graceful: the burst's replies, the write's (uncertain) and PING's,
	// then the close.
	rc := waitProposed(nd.addr, "SET sd:graceful 1\r\nPING\r\n")
	if err := c.shutdownServer(ld); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if got := rc.reply(); !strings.HasPrefix(got, "-UNCERTAIN ") {
		t.Errorf("the write the cluster could not commit: %q", got)
	}
	if got := rc.reply(); got != "+PONG" {
		t.Errorf("PING after it in the burst: %q", got)
	}
	rc.expectClosed()
	waitNoServerGoroutines(t)
}
