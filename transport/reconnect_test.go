package transport

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// A peer that goes away is reported unreachable and messages to it are
// dropped, not queued; when it comes back on its address the connection
// is remade without anyone asking.
func TestPeerRestartReconnects(t *testing.T) {
	rec1, rec2 := newRecorder(), newRecorder()
	t1 := startTransport(t, testConfig(t, 1, rec1))
	cfg2 := testConfig(t, 2, rec2)
	t2 := startTransport(t, cfg2)
	addr := t2.Addr().String()
	if err := t1.AddPeer(2, addr); err != nil {
		t.Fatal(err)
	}
	t1.Send([]Msg{appMsg(7, 1, 2, 1, 1, 8)})
	waitFor(t, 5*time.Second, "first delivery", func() bool { return rec2.count() == 1 })

	t2.Close()
	waitFor(t, 5*time.Second, "peer reported unreachable", func() bool { return rec1.unreachableCount(2) > 0 })
	// While it is down, what is sent is dropped and counted, never queued.
	before := t1.Stats().MessagesDropped
	for i := range 100 {
		t1.Send([]Msg{appMsg(7, 1, 2, uint64(2+i), 1, 8)})
	}
	waitFor(t, 5*time.Second, "drops counted", func() bool { return t1.Stats().MessagesDropped >= before+100 })

	rec3 := newRecorder()
	cfg2.Handler = rec3
	cfg2.ListenAddr = addr
	startTransport(t, cfg2)
	waitFor(t, 10*time.Second, "delivery after the restart", func() bool {
		t1.Send([]Msg{heartbeat(7, 1, 2, 1)})
		return rec3.count() > 0
	})
	if c := t1.Stats().Connects; c < 2 {
		t.Fatalf("%d connects, want a reconnect", c)
	}
}

// A peer that never answers is retried with growing waits, not in a
// tight loop: the number of dial attempts over a window stays near what
// the backoff allows.
func TestReconnectBacksOff(t *testing.T) {
	rec := newRecorder()
	cfg := testConfig(t, 1, rec)
	cfg.BackoffMin = 10 * time.Millisecond
	cfg.BackoffMax = 80 * time.Millisecond
	tr := startTransport(t, cfg)
	// A listener that is closed at once: connections are refused.
	dead := startTransport(t, testConfig(t, 9, newRecorder()))
	addr := dead.Addr().String()
	dead.Close()
	start := time.Now()
	if err := tr.AddPeer(2, addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a few failed dials", func() bool { return tr.Stats().DialFailures >= 6 })
	elapsed := time.Since(start)
	// Each failure is counted as a dial error and reported, just after.
	waitFor(t, 5*time.Second, "the failures counted and reported", func() bool {
		return tr.Stats().Errors[KindDial] >= 6 && rec.unreachableCount(2) >= 6
	})
	// Waits drawn from the upper half of 10, 20, 40, 80, 80 ms: at least
	// 5+10+20+40+40 ms before the sixth attempt.
	if elapsed < 115*time.Millisecond {
		t.Fatalf("6 dial attempts in %s: no backoff", elapsed)
	}
}

// A link that falls silent (a peer frozen, a cable cut without a reset)
// is closed after the idle timeout, not kept forever.
func TestSilentLinkIsClosed(t *testing.T) {
	cfg := testConfig(t, 2, newRecorder())
	cfg.PingInterval = 20 * time.Millisecond
	cfg.IdleTimeout = 200 * time.Millisecond
	host := startTransport(t, cfg)
	conn, err := net.Dial("tcp", host.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(helloFrame(1, 1, 2)); err != nil {
		t.Fatal(err)
	}
	// Say nothing more; the transport must give up on us.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, conn) // its hello and pings, then the close
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a silent link was kept open past the idle timeout")
	}
	waitFor(t, 5*time.Second, "the idle close counted", func() bool { return host.Stats().Errors[KindIO] > 0 })
}
