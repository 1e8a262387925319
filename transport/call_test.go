package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// callTestTimeout bounds every wait of these tests: it turns a hang into
// a failure, and is never what a test measures.
const callTestTimeout = 20 * time.Second

// echoAs answers a call with "from>self:" and the request, so a caller
// can tell its own answer from any other.
func echoAs(self uint64) func(context.Context, uint64, []byte) ([]byte, error) {
	return func(_ context.Context, from uint64, req []byte) ([]byte, error) {
		return append(echoPrefix(from, self), req...), nil
	}
}

func echoPrefix(from, to uint64) []byte { return fmt.Appendf(nil, "%d>%d:", from, to) }

// callPayload is n bytes that no other (from, i) shares: the caller and
// index, then a fill byte of their own.
func callPayload(from uint64, i, n int) []byte {
	var head [16]byte
	binary.LittleEndian.PutUint64(head[:], from)
	binary.LittleEndian.PutUint64(head[8:], uint64(i))
	p := append(head[:], bytes.Repeat([]byte{byte(i*31 + int(from))}, max(0, n-len(head)))...)
	return p[:n]
}

// gate holds handlers until it is opened, and counts those it holds.
type gate struct {
	entered atomic.Int32
	open    chan struct{}
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

// wait blocks a handler until the gate opens or its ctx ends.
func (g *gate) wait(ctx context.Context) error {
	g.entered.Add(1)
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// goCall runs a call in the background; its outcome comes on the channel.
func goCall(ctx context.Context, tr *Transport, node uint64, req []byte) <-chan callReply {
	ch := make(chan callReply, 1)
	go func() {
		resp, err := tr.Call(ctx, node, req)
		ch <- callReply{resp, err}
	}()
	return ch
}

// await takes a background call's outcome, failing the test if it never
// comes.
func await(t *testing.T, ch <-chan callReply) callReply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(callTestTimeout):
		t.Fatal("a call never returned")
		return callReply{}
	}
}

// Many calls at once, both ways between two nodes, with requests from
// empty to a mebibyte: each caller gets its own answer, whole.
func TestCallsConcurrentBothWays(t *testing.T) {
	const perSide = 100
	sizes := []int{0, 1, 16, 100, 1000, 4 << 10, 64<<10 + 3}
	trs, recs := cluster(t, 2, nil)
	for i, rec := range recs {
		rec.serveCalls(echoAs(uint64(i + 1)))
	}
	ctx, cancel := context.WithTimeout(t.Context(), callTestTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2*perSide)
	var reqBytes [2]int
	for side := range 2 {
		from, to := uint64(side+1), uint64(2-side)
		for i := range perSide {
			size := sizes[i%len(sizes)]
			if i == 0 {
				size = 1 << 20
			}
			req := callPayload(from, i, size)
			reqBytes[side] += len(req)
			wg.Go(func() {
				resp, err := trs[side].Call(ctx, to, req)
				if want := append(echoPrefix(from, to), req...); err != nil || !bytes.Equal(resp, want) {
					errs <- fmt.Errorf("call %d from node %d (%d bytes): got %d bytes, %v", i, from, len(req), len(resp), err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for side, tr := range trs {
		peer := 1 - side
		s := tr.Stats()
		respBytes := reqBytes[peer] + perSide*len(echoPrefix(1, 2))
		if s.CallsSent != perSide || s.CallsServed != perSide || s.CallsFailed != 0 || s.CallsLate != 0 || s.CallsBusy != 0 {
			t.Errorf("node %d: sent %d, served %d, failed %d, late %d, busy %d; want %d, %d, 0, 0, 0",
				side+1, s.CallsSent, s.CallsServed, s.CallsFailed, s.CallsLate, s.CallsBusy, perSide, perSide)
		}
		if s.CallBytesSent != uint64(reqBytes[side]+respBytes) || s.CallBytesReceived != uint64(reqBytes[peer]+reqBytes[side]+perSide*len(echoPrefix(1, 2))) {
			t.Errorf("node %d: call bytes sent %d, received %d; want %d and %d", side+1, s.CallBytesSent, s.CallBytesReceived,
				reqBytes[side]+respBytes, reqBytes[peer]+reqBytes[side]+perSide*len(echoPrefix(1, 2)))
		}
	}
}

// Handlers that block, on both nodes, with large requests among them, do
// not hold up Raft messages between the same two nodes, either way.
func TestBlockedCallsDoNotDelayRaftMessages(t *testing.T) {
	trs, recs := cluster(t, 2, nil)
	g := newGate()
	for _, rec := range recs {
		rec.serveCalls(func(ctx context.Context, _ uint64, req []byte) ([]byte, error) {
			if err := g.wait(ctx); err != nil {
				return nil, err
			}
			return req[:min(len(req), 8)], nil
		})
	}
	var calls []<-chan callReply
	for i := range 6 {
		side := i % 2
		req := callPayload(uint64(side+1), i, []int{10, 2 << 20, 512 << 10}[i/2])
		calls = append(calls, goCall(t.Context(), trs[side], uint64(2-side), req))
	}
	waitFor(t, callTestTimeout, "every handler blocked", func() bool { return g.entered.Load() == 6 })
	for side, tr := range trs {
		from, to := uint64(side+1), uint64(2-side)
		tr.Send([]Msg{appMsg(1, from, to, 1, 4, 1024), heartbeat(2, from, to, 1)})
	}
	waitFor(t, callTestTimeout, "Raft messages both ways", func() bool { return recs[0].count() == 2 && recs[1].count() == 2 })
	for i, ch := range calls {
		select {
		case r := <-ch:
			t.Fatalf("call %d returned (%v) while its handler was blocked", i, r.err)
		default:
		}
	}
	close(g.open)
	for i, ch := range calls {
		if r := await(t, ch); r.err != nil || len(r.resp) != 8 {
			t.Errorf("call %d: %d bytes, %v", i, len(r.resp), r.err)
		}
	}
}

// The caller's deadline travels with the request and ends the handler's
// context; the caller gets its own context's error, and the answer the
// handler gives after that is dropped and counted. The connection stays
// up for the next call.
func TestCallDeadlineReachesHandlerAndLateAnswerIsDropped(t *testing.T) {
	trs, recs := cluster(t, 2, nil)
	handlerSaw := make(chan error, 1)
	release := make(chan struct{})
	recs[1].serveCalls(func(ctx context.Context, _ uint64, _ []byte) ([]byte, error) {
		<-ctx.Done()
		handlerSaw <- ctx.Err()
		<-release
		return []byte("too late"), nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := trs[0].Call(ctx, 2, []byte("slow")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call past its deadline: %v, want context.DeadlineExceeded", err)
	}
	select {
	case err := <-handlerSaw:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("the handler's context ended with %v, want its deadline", err)
		}
	case <-time.After(callTestTimeout):
		t.Fatal("the caller's deadline never reached the handler")
	}
	close(release)
	waitFor(t, callTestTimeout, "the late answer dropped", func() bool { return trs[0].Stats().CallsLate == 1 })
	recs[1].serveCalls(echoAs(2))
	if resp, err := trs[0].Call(t.Context(), 2, []byte("next")); err != nil || string(resp) != "1>2:next" {
		t.Fatalf("the call after a late answer: %q, %v", resp, err)
	}
	if s := trs[0].Stats(); s.CallsFailed != 1 || s.CallsSent != 2 {
		t.Fatalf("sent %d, failed %d; want 2 and 1", s.CallsSent, s.CallsFailed)
	}
}

// Cancelling the caller's context returns the call at once, while the
// handler still holds it; the answer that comes later is counted late.
func TestCallCancelled(t *testing.T) {
	trs, recs := cluster(t, 2, nil)
	g := newGate()
	recs[1].serveCalls(func(ctx context.Context, _ uint64, req []byte) ([]byte, error) {
		return req, g.wait(ctx)
	})
	ctx, cancel := context.WithCancel(t.Context())
	ch := goCall(ctx, trs[0], 2, []byte("x"))
	waitFor(t, callTestTimeout, "the handler holding the call", func() bool { return g.entered.Load() == 1 })
	cancel()
	if r := await(t, ch); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled call: %v, want context.Canceled", r.err)
	}
	close(g.open)
	waitFor(t, callTestTimeout, "the late answer dropped", func() bool { return trs[0].Stats().CallsLate == 1 })
	if s := trs[1].Stats(); s.CallsServed != 1 {
		t.Fatalf("callee served %d calls, want 1", s.CallsServed)
	}
}

// A callee that dies fails every call in flight to it at once with
// ErrUnreachable, long before any idle timeout, and a call after that
// fails too rather than waiting.
func TestCallsFailWhenCalleeDies(t *testing.T) {
	trs, recs := cluster(t, 2, func(c *Config) { c.IdleTimeout = time.Hour })
	g := newGate()
	recs[1].serveCalls(func(ctx context.Context, _ uint64, req []byte) ([]byte, error) {
		return req, g.wait(ctx)
	})
	var calls []<-chan callReply
	for i := range 5 {
		calls = append(calls, goCall(t.Context(), trs[0], 2, callPayload(1, i, 64)))
	}
	waitFor(t, callTestTimeout, "every call being served", func() bool { return g.entered.Load() == 5 })
	trs[1].Close()
	for i, ch := range calls {
		if r := await(t, ch); !errors.Is(r.err, ErrUnreachable) || errors.Is(r.err, ErrNotSent) {
			t.Errorf("call %d in flight when the callee died: %v, want ErrUnreachable, and not ErrNotSent: it was sent", i, r.err)
		}
	}
	if r := await(t, goCall(t.Context(), trs[0], 2, []byte("after"))); !errors.Is(r.err, ErrUnreachable) {
		t.Fatalf("call to a dead callee: %v, want ErrUnreachable", r.err)
	}
	if s := trs[0].Stats(); s.CallsFailed != 6 || s.CallsLate != 0 {
		t.Fatalf("failed %d, late %d; want 6 and 0", s.CallsFailed, s.CallsLate)
	}
}

// Calls to a node the transport does not know, or after Close, fail with
// ErrUnreachable without dialing anything.
func TestCallWithoutPeerIsUnreachable(t *testing.T) {
	trs, _ := cluster(t, 2, nil)
	if _, err := trs[0].Call(t.Context(), 7, []byte("x")); !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrNotSent) || !strings.Contains(err.Error(), "node 7") {
		t.Fatalf("call to an unknown node: %v, want ErrUnreachable naming it", err)
	}
	trs[0].Close()
	if _, err := trs[0].Call(t.Context(), 2, []byte("x")); !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close: %v, want ErrUnreachable and ErrClosed", err)
	}
}

// Beyond CallsServedMax calls being served for one peer, a request is
// answered ErrPeerBusy at once without reaching the handler; another
// peer is not held to the first one's bound, and once calls finish the
// peer is served again.
func TestCallsBeyondServedMaxAreBusy(t *testing.T) {
	trs, recs := cluster(t, 3, func(c *Config) { c.CallsServedMax = 2 })
	g := newGate()
	recs[1].serveCalls(func(ctx context.Context, _ uint64, req []byte) ([]byte, error) {
		if string(req) == "quick" {
			return req, nil
		}
		return req, g.wait(ctx)
	})
	held := []<-chan callReply{goCall(t.Context(), trs[0], 2, []byte("a")), goCall(t.Context(), trs[0], 2, []byte("b"))}
	waitFor(t, callTestTimeout, "two calls being served", func() bool { return g.entered.Load() == 2 })
	_, err := trs[0].Call(t.Context(), 2, []byte("c"))
	if !errors.Is(err, ErrPeerBusy) || !strings.Contains(err.Error(), "calls_served_max") {
		t.Fatalf("third call: %v, want ErrPeerBusy naming calls_served_max", err)
	}
	if n := g.entered.Load(); n != 2 {
		t.Fatalf("%d calls reached the handler, want 2", n)
	}
	if s := trs[1].Stats(); s.CallsBusy != 1 {
		t.Fatalf("callee counted %d busy answers, want 1", s.CallsBusy)
	}
	if resp, err := trs[2].Call(t.Context(), 2, []byte("quick")); err != nil || string(resp) != "quick" {
		t.Fatalf("another node's call while node 1 is at the bound: %q, %v", resp, err)
	}
	close(g.open)
	for _, ch := range held {
		if r := await(t, ch); r.err != nil {
			t.Fatalf("held call: %v", r.err)
		}
	}
	waitFor(t, callTestTimeout, "node 1 served again", func() bool {
		_, err := trs[0].Call(t.Context(), 2, []byte("quick"))
		return err == nil
	})
}

// A request longer than the limit is refused, naming its size and the
// limit, before a connection is even made; one of exactly the limit goes
// and comes back, and a response beyond it is answered ErrRemote.
func TestCallPayloadLimit(t *testing.T) {
	trs, recs := cluster(t, 2, func(c *Config) {
		c.MaxFrameBytes = 1 << 20
		c.SnapshotChunkBytes = 256 << 10
	})
	recs[1].serveCalls(func(_ context.Context, _ uint64, req []byte) ([]byte, error) {
		if string(req) == "grow" {
			return make([]byte, trs[1].CallPayloadBytesMax()+1), nil
		}
		return req, nil
	})
	limit := trs[0].CallPayloadBytesMax()
	_, err := trs[0].Call(t.Context(), 2, make([]byte, limit+1))
	if !errors.Is(err, ErrFrameTooLarge) || !strings.Contains(err.Error(), strconv.Itoa(limit+1)) || !strings.Contains(err.Error(), strconv.Itoa(limit)) {
		t.Fatalf("oversized call: %v, want ErrFrameTooLarge naming %d and %d", err, limit+1, limit)
	}
	if s := trs[0].Stats(); s.CallsSent != 0 || s.CallBytesSent != 0 || s.CallsFailed != 1 {
		t.Fatalf("after the refusal: sent %d calls of %d bytes, failed %d; want 0, 0, 1", s.CallsSent, s.CallBytesSent, s.CallsFailed)
	}
	if trs[0].peer(2).call.Load() != nil {
		t.Fatal("an oversized call made a call connection")
	}
	resp, err := trs[0].Call(t.Context(), 2, callPayload(1, 0, limit))
	if err != nil || !bytes.Equal(resp, callPayload(1, 0, limit)) {
		t.Fatalf("call of exactly the limit: %d bytes back, %v", len(resp), err)
	}
	_, err = trs[0].Call(t.Context(), 2, []byte("grow"))
	if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), strconv.Itoa(limit+1)) {
		t.Fatalf("oversized response: %v, want ErrRemote naming %d", err, limit+1)
	}
}

// raftOnly has Handler's methods only: a node that serves no calls.
type raftOnly struct{ Handler }

// The handler's errors reach the caller: text as ErrRemote, ErrPeerBusy as
// itself; a node whose Handler has no HandleCall answers ErrRemote.
func TestCallHandlerErrorsReachTheCaller(t *testing.T) {
	rec := newRecorder()
	caller := startTransport(t, testConfig(t, 1, rec))
	serving := newRecorder()
	withCalls := startTransport(t, testConfig(t, 2, serving))
	without := startTransport(t, testConfig(t, 3, raftOnly{newRecorder()}))
	for id, tr := range map[uint64]*Transport{2: withCalls, 3: without} {
		if err := caller.AddPeer(id, tr.Addr().String()); err != nil {
			t.Fatal(err)
		}
	}
	serving.serveCalls(func(_ context.Context, _ uint64, req []byte) ([]byte, error) {
		if string(req) == "busy" {
			return nil, fmt.Errorf("leader catching up: %w", ErrPeerBusy)
		}
		return nil, errors.New("ERR unknown command 'FLY'")
	})
	if _, err := caller.Call(t.Context(), 2, []byte("fly")); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "ERR unknown command 'FLY'") {
		t.Fatalf("handler error: %v, want ErrRemote with its text", err)
	}
	if _, err := caller.Call(t.Context(), 2, []byte("busy")); !errors.Is(err, ErrPeerBusy) || !strings.Contains(err.Error(), "catching up") {
		t.Fatalf("handler's busy error: %v, want ErrPeerBusy with its text", err)
	}
	if _, err := caller.Call(t.Context(), 3, []byte("x")); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "serves no calls") {
		t.Fatalf("call to a node without HandleCall: %v, want ErrRemote saying it serves no calls", err)
	}
}

func callHelloFrame(from, to uint64) []byte {
	return appendFrame(nil, frameHello, appendHello(nil, hello{version: ProtocolVersion, cluster: 1, from: from, to: to, kind: connCall}), true)
}

// Bad frames from a caller are refused by kind and close the connection,
// as on a Raft link; the callee goes on serving good callers.
func TestBadCallFramesAreRejectedByKind(t *testing.T) {
	trs, recs := cluster(t, 2, nil)
	recs[1].serveCalls(echoAs(2))
	target := trs[1]
	hello := callHelloFrame(1, 2)
	badCRC := callRequestFrame(3, 0, []byte("abc"), true)
	badCRC[len(badCRC)-1] ^= 1
	cases := []struct {
		name string
		send []byte
		kind ErrorKind
	}{
		{"request with call ID 0", concatBytes(hello, appendFrame(nil, frameCallRequest, concatBytes(uvarintBytes(0), uvarintBytes(0), []byte("x")), true)), KindMalformed},
		{"request cut inside its ID", concatBytes(hello, appendFrame(nil, frameCallRequest, []byte{0x80}, true)), KindMalformed},
		{"request without its deadline", concatBytes(hello, appendFrame(nil, frameCallRequest, uvarintBytes(5), true)), KindMalformed},
		{"request with a bad checksum", concatBytes(hello, badCRC), KindChecksum},
		{"response sent to the callee", concatBytes(hello, callResponseFrame(1, callOK, []byte("x"), true)), KindUnexpectedFrame},
		{"messages on a call connection", concatBytes(hello, appMsgFrame(t, 1, 2)), KindUnexpectedFrame},
		{"call request on a Raft connection", concatBytes(helloFrame(1, 1, 2), callRequestFrame(1, 0, []byte("x"), true)), KindUnexpectedFrame},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := target.Stats().Errors[c.kind]
			rawExchange(t, target.Addr().String(), c.send)
			waitFor(t, callTestTimeout, c.kind.String()+" counted", func() bool { return target.Stats().Errors[c.kind] > before })
		})
	}
	if resp, err := trs[0].Call(t.Context(), 2, []byte("still here")); err != nil || string(resp) != "1>2:still here" {
		t.Fatalf("a good call after the bad frames: %q, %v", resp, err)
	}
}

// fakeCallee listens as node 2 of cluster 1: it completes every handshake,
// and on a call connection reads one request and writes answer(id) back,
// then reads until the caller closes the connection, which it reports.
func fakeCallee(t *testing.T, answer func(id uint64) []byte) (addr string, callerClosed <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	closed := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			go func() {
				var hdr [frameHeaderBytes]byte
				lim := frameLimits{maxBytes: 1 << 20}
				_, p, err := readFrame(conn, &hdr, lim, nil)
				if err != nil {
					return
				}
				h, err := decodeHello(p)
				if err != nil {
					return
				}
				conn.Write(appendFrame(nil, frameHello, appendHello(nil, hello{version: ProtocolVersion, cluster: 1, from: 2, to: h.from, kind: h.kind}), true))
				if h.kind == connCall {
					for {
						typ, p, err := readFrame(conn, &hdr, lim, nil)
						if err != nil {
							return
						}
						if typ == frameCallRequest {
							id, _, _, _ := decodeCallRequest(p)
							conn.Write(answer(id))
							break
						}
					}
				}
				io.Copy(io.Discard, conn)
				if h.kind == connCall {
					once.Do(func() { close(closed) })
				}
			}()
		}
	}()
	return ln.Addr().String(), closed
}

// Bad frames from a callee fail the call with ErrUnreachable wrapping the
// kind, are counted, and close the connection.
func TestBadCallResponsesCloseTheConnection(t *testing.T) {
	cases := []struct {
		name   string
		answer func(id uint64) []byte
		kind   ErrorKind
	}{
		{"response to a call never sent", func(id uint64) []byte { return callResponseFrame(id+5, callOK, []byte("x"), true) }, KindMalformed},
		{"unknown status", func(id uint64) []byte {
			return appendFrame(nil, frameCallResponse, concatBytes(uvarintBytes(id), []byte{7}), true)
		}, KindMalformed},
		{"request sent to the caller", func(id uint64) []byte { return callRequestFrame(id, 0, []byte("x"), true) }, KindUnexpectedFrame},
		{"response with a bad checksum", func(id uint64) []byte {
			f := callResponseFrame(id, callOK, []byte("abc"), true)
			f[len(f)-1] ^= 1
			return f
		}, KindChecksum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr, closed := fakeCallee(t, c.answer)
			caller := startTransport(t, testConfig(t, 1, newRecorder()))
			if err := caller.AddPeer(2, addr); err != nil {
				t.Fatal(err)
			}
			_, err := caller.Call(t.Context(), 2, []byte("x"))
			if !errors.Is(err, ErrUnreachable) || !errors.Is(err, kindErrors[c.kind]) {
				t.Fatalf("call: %v, want ErrUnreachable wrapping %s", err, c.kind)
			}
			waitFor(t, callTestTimeout, c.kind.String()+" counted", func() bool { return caller.Stats().Errors[c.kind] > 0 })
			select {
			case <-closed:
			case <-time.After(callTestTimeout):
				t.Fatal("the caller kept the connection open")
			}
		})
	}
}

// Calls go over TLS as over plaintext, on a connection whose certificate
// names the caller, and without the frame checksum TLS makes redundant.
func TestCallOverTLS(t *testing.T) {
	trs, recs, _ := tlsCluster(t, 2)
	recs[1].serveCalls(func(_ context.Context, from uint64, req []byte) ([]byte, error) {
		return append(echoPrefix(from, 2), req...), nil
	})
	req := callPayload(1, 0, 100<<10)
	resp, err := trs[0].Call(t.Context(), 2, req)
	if err != nil || !bytes.Equal(resp, append(echoPrefix(1, 2), req...)) {
		t.Fatalf("call over TLS: %d bytes, %v", len(resp), err)
	}
	if c := trs[0].peer(2).call.Load(); c == nil || c.l.checksum {
		t.Fatal("call frames on a TLS link are checksummed; TLS already authenticates them")
	}
}
