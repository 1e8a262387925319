package transport

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
)

// lockedBuffer is a log destination shared by the transport's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Count(l.b.Bytes(), []byte(s))
}

// While a peer is down, every call dials it and fails, saying its request
// was not sent: each failure is counted, but only the first is logged,
// not one line per request.
func TestCallDialFailuresLoggedOnce(t *testing.T) {
	var logs lockedBuffer
	cfg := testConfig(t, 1, newRecorder())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there any more
	if err := tr.AddPeer(2, dead); err != nil {
		t.Fatal(err)
	}
	before := tr.Stats().Errors
	const calls = 5
	for range calls {
		if _, err := tr.Call(t.Context(), 2, []byte("x")); !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrNotSent) {
			t.Fatalf("a call to a dead address: %v, want ErrUnreachable and ErrNotSent", err)
		}
	}
	var counted uint64
	for k, n := range tr.Stats().Errors {
		counted += n - before[k]
	}
	if counted < calls {
		t.Fatalf("%d dial failures counted for %d calls", counted, calls)
	}
	if n := logs.count("cannot open a call connection"); n != 1 {
		t.Fatalf("%d log lines for %d failed dials, want 1", n, calls)
	}
}
