package transport

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
)

// recorder is a Handler that keeps everything it is given.
type recorder struct {
	mu          sync.Mutex
	msgs        []Msg
	unreachable map[uint64]int
	statuses    []snapshotStatus
	snaps       []ReceivedSnapshot
	snapErr     error // returned by HandleSnapshot when set
	onMessages  func([]Msg)
	onCall      func(ctx context.Context, from uint64, req []byte) ([]byte, error)
}

type snapshotStatus struct {
	group, node uint64
	ok          bool
}

func newRecorder() *recorder { return &recorder{unreachable: map[uint64]int{}} }

func (r *recorder) HandleMessages(batch []Msg) {
	r.mu.Lock()
	r.msgs = append(r.msgs, batch...)
	f := r.onMessages
	r.mu.Unlock()
	if f != nil {
		f(batch)
	}
}

func (r *recorder) HandleSnapshot(s ReceivedSnapshot) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snapErr != nil {
		return r.snapErr
	}
	r.snaps = append(r.snaps, s)
	return nil
}

// HandleCall runs onCall, set with serveCalls; without it the recorder
// serves no calls.
func (r *recorder) HandleCall(ctx context.Context, from uint64, req []byte) ([]byte, error) {
	r.mu.Lock()
	f := r.onCall
	r.mu.Unlock()
	if f == nil {
		return nil, errors.New("this test's recorder serves no calls")
	}
	return f(ctx, from, req)
}

func (r *recorder) serveCalls(f func(ctx context.Context, from uint64, req []byte) ([]byte, error)) {
	r.mu.Lock()
	r.onCall = f
	r.mu.Unlock()
}

func (r *recorder) Unreachable(node uint64) {
	r.mu.Lock()
	r.unreachable[node]++
	r.mu.Unlock()
}

func (r *recorder) SnapshotStatus(group, node uint64, ok bool) {
	r.mu.Lock()
	r.statuses = append(r.statuses, snapshotStatus{group, node, ok})
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) messages() []Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Msg(nil), r.msgs...)
}

func (r *recorder) unreachableCount(node uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unreachable[node]
}

func (r *recorder) snapshotStatuses() []snapshotStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]snapshotStatus(nil), r.statuses...)
}

// testLogger logs to stderr when -v is set, else nowhere.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testConfig is a config for node id of cluster 1 on a free loopback port,
// with short timeouts so failures show quickly.
func testConfig(t testing.TB, id uint64, h Handler) Config {
	return Config{
		ClusterID:        1,
		NodeID:           id,
		ListenAddr:       "127.0.0.1:0",
		Handler:          h,
		Logger:           testLogger(),
		SnapshotDir:      t.TempDir(),
		BackoffMin:       5 * time.Millisecond,
		BackoffMax:       50 * time.Millisecond,
		PingInterval:     50 * time.Millisecond,
		IdleTimeout:      2 * time.Second,
		HandshakeTimeout: 2 * time.Second,
	}
}

func startTransport(t testing.TB, cfg Config) *Transport {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("New(node %d): %v", cfg.NodeID, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// cluster starts n transports, node IDs 1..n, each knowing the others.
func cluster(t testing.TB, n int, mod func(*Config)) ([]*Transport, []*recorder) {
	t.Helper()
	trs := make([]*Transport, n)
	recs := make([]*recorder, n)
	for i := range trs {
		recs[i] = newRecorder()
		cfg := testConfig(t, uint64(i+1), recs[i])
		if mod != nil {
			mod(&cfg)
		}
		trs[i] = startTransport(t, cfg)
	}
	for i, tr := range trs {
		for j, peer := range trs {
			if i != j {
				if err := tr.AddPeer(uint64(j+1), peer.Addr().String()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return trs, recs
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// appMsg is an append for group from one node to another, carrying n
// entries of size bytes each, whose data says where they belong.
func appMsg(group, from, to, index uint64, n, size int) Msg {
	ents := make([]consensus.Entry, n)
	for i := range ents {
		data := make([]byte, size)
		copy(data, fmt.Sprintf("g%d/i%d", group, index+uint64(i)))
		ents[i] = consensus.Entry{Term: 3, Index: index + uint64(i), Data: data}
	}
	return Msg{Group: group, Message: consensus.Message{
		Type: consensus.MsgApp, From: from, To: to, Term: 3, LogTerm: 3, Index: index - 1, Commit: index - 1, Entries: ents,
	}}
}

func heartbeat(group, from, to, round uint64) Msg {
	return Msg{Group: group, Message: consensus.Message{Type: consensus.MsgHeartbeat, From: from, To: to, Term: 2, Commit: group, Round: round}}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
