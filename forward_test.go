package raftpipe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A request one host forwards reaches the handler the service installed
// on the other, through the hosts' own transports, and the answer or the
// handler's error comes back; before a handler is installed the answer is
// "busy, try again".
func TestForwardReachesTheOtherHostsHandler(t *testing.T) {
	c := newCluster(t, 2, 0, nil)
	h1, h2 := c.hosts[0], c.hosts[1]
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	if _, err := h1.Forward(ctx, 2, []byte("PING")); !errors.Is(err, ErrPeerBusy) {
		t.Fatalf("forward before a handler is installed: %v, want ErrPeerBusy", err)
	}
	h2.HandleForwarded(func(ctx context.Context, from uint64, req []byte) ([]byte, error) {
		if string(req) == "FLY" {
			return nil, errors.New("ERR unknown command 'FLY'")
		}
		return fmt.Appendf(nil, "node %d heard %q from node %d", h2.NodeID(), req, from), nil
	})
	resp, err := h1.Forward(ctx, 2, []byte("SET k v"))
	if want := `node 2 heard "SET k v" from node 1`; err != nil || string(resp) != want {
		t.Fatalf("forward: %q, %v; want %q", resp, err, want)
	}
	if _, err := h1.Forward(ctx, 2, []byte("FLY")); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "unknown command 'FLY'") {
		t.Fatalf("forward the handler refuses: %v, want ErrRemote with the handler's text", err)
	}
	if _, err := h1.Forward(ctx, 2, make([]byte, h1.ForwardBytesMax()+1)); !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("forward beyond ForwardBytesMax: %v, want ErrRequestTooLarge", err)
	}
	if _, err := h1.Forward(ctx, 9, []byte("PING")); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("forward to a host this one does not know: %v, want ErrUnreachable", err)
	}
	if s1, s2 := h1.Stats().Transport, h2.Stats().Transport; s1.CallsSent != 3 || s2.CallsServed != 3 {
		t.Fatalf("host 1 sent %d, host 2 served %d; want 3 and 3", s1.CallsSent, s2.CallsServed)
	}
}
