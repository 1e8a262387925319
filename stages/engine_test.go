package stages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/lni/goutils/leaktest"
	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/logstore"
	"github.com/raftpipe/raftpipe/ringbuf"
	"github.com/raftpipe/raftpipe/transport"
)

// engineHandler feeds a transport's arrivals to an engine.
type engineHandler struct{ e *Engine }

func (h *engineHandler) HandleMessages(b []transport.Msg) { h.e.Deliver(b) }
func (h *engineHandler) HandleSnapshot(transport.ReceivedSnapshot) error {
	return errors.New("snapshots come with the state machines on disk")
}
func (h *engineHandler) Unreachable(node uint64)             { h.e.Unreachable(node) }
func (h *engineHandler) SnapshotStatus(g, n uint64, ok bool) { h.e.SnapshotStatus(g, n, ok) }

type testNode struct {
	id  uint64
	e   *Engine
	tr  *transport.Transport
	st  *logstore.Store
	sms map[uint64]*fsm.MemKV
}

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// startNodes starts n hosts' engines on loopback transports and in-memory
// logs, ticking every 10 ms, each running groups with members 1..n.
func startNodes(t *testing.T, n int, groups int, tune ...func(*EngineConfig)) []*testNode {
	t.Helper()
	nodes := make([]*testNode, n)
	for i := range nodes {
		id := uint64(i + 1)
		st, _, err := logstore.OpenInMemory(nil, logstore.Options{Dir: "wal", SegmentBytes: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		h := &engineHandler{}
		tr, err := transport.New(transport.Config{ClusterID: 1, NodeID: id, ListenAddr: "127.0.0.1:0", Handler: h, Logger: testLog(), SnapshotDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		cc := consensus.DefaultConfig()
		ecfg := EngineConfig{
			NodeID: id, Workers: 2, WorkerCapacity: 1024, ReplicateCapacity: 4096, FsyncCapacity: 1024, ApplyCapacity: 1024,
			Batch:           BatchConfig{Capacity: 4096, EntriesMax: 256, BytesMax: 1 << 20},
			FsyncWriteBytes: 16 << 20, Wait: ringbuf.Blocking, Consensus: cc, Store: st, Sender: tr, Logger: testLog(),
			TickInterval: 10 * time.Millisecond,
		}
		for _, f := range tune {
			f(&ecfg)
		}
		e, err := NewEngine(ecfg)
		if err != nil {
			t.Fatal(err)
		}
		h.e = e
		e.Start()
		nodes[i] = &testNode{id: id, e: e, tr: tr, st: st, sms: map[uint64]*fsm.MemKV{}}
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.tr.AddPeer(b.id, b.tr.Addr().String())
			}
		}
	}
	members := consensus.Membership{}
	for _, nd := range nodes {
		members.Voters = append(members.Voters, nd.id)
	}
	for _, nd := range nodes {
		for g := uint64(1); g <= uint64(groups); g++ {
			sm := fsm.NewMemKV()
			nd.sms[g] = sm
			if err := nd.e.StartGroup(t.Context(), g, members, sm); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop := make(chan struct{})
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				for _, nd := range nodes {
					nd.e.Tick()
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-tickDone
		for _, nd := range nodes {
			if err := nd.e.Stop(); err != nil {
				t.Errorf("node %d stopped with %v", nd.id, err)
			}
			nd.tr.Close()
			nd.st.Close()
		}
	})
	return nodes
}

// leaderOf waits until some node leads group and returns it.
func leaderOf(t *testing.T, nodes []*testNode, group uint64) *testNode {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, nd := range nodes {
			if st, _ := nd.e.Status(group); st.Role == consensus.Leader {
				return nd
			}
		}
		<-time.After(2 * time.Millisecond)
	}
	t.Fatalf("no leader for group %d", group)
	return nil
}

// proposeOnLeader proposes cmd as a client would: to the leader, again to
// the new one when leadership moves (a loaded test machine can delay
// heartbeats past an election timeout), and fails the test after 10 s.
// A write is only retried when it was refused, never after a timeout,
// whose outcome is unknown.
func proposeOnLeader(t *testing.T, nodes []*testNode, group uint64, cmd []byte) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ld := leaderOf(t, nodes, group)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		res, err := ld.e.Propose(ctx, group, cmd)
		cancel()
		if err == nil {
			return res
		}
		if !errors.Is(err, ErrNotLeader) || time.Now().After(deadline) {
			t.Fatalf("group %d: propose on node %d: %v", group, ld.id, err)
		}
	}
}

// Three hosts elect a leader per group; proposals through the leader are
// applied with their results on every replica, in the same order.
func TestEngineThreeHostsReplicate(t *testing.T) {
	t.Cleanup(leaktest.AfterTest(t)) // registered first, so it runs after the nodes stop: Stop leaves no goroutine behind
	const groups, writes = 4, 50
	nodes := startNodes(t, 3, groups)
	for g := uint64(1); g <= groups; g++ {
		for i := range writes {
			res := proposeOnLeader(t, nodes, g, fsm.EncodePut(nil, []byte("k"), []byte(fmt.Sprint(i))))
			if len(res) != 1 || res[0] != fsm.StatusOK {
				t.Fatalf("group %d write %d: result %v", g, i, res)
			}
		}
		// A follower refuses with a not-leader error.
		ld := leaderOf(t, nodes, g)
		for _, nd := range nodes {
			if nd != ld {
				_, err := nd.e.Propose(t.Context(), g, fsm.EncodePut(nil, []byte("k"), []byte("x")))
				if !errors.Is(err, ErrNotLeader) {
					t.Fatalf("follower %d: %v, want a not-leader error", nd.id, err)
				}
				break
			}
		}
	}
	for g := uint64(1); g <= groups; g++ {
		want := fmt.Sprint(writes - 1)
		for _, nd := range nodes {
			sm := nd.sms[g]
			deadline := time.Now().Add(10 * time.Second)
			for {
				v, err := sm.Lookup([]byte("k"))
				if err == nil && string(v) == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("node %d group %d: k=%q (%v), want %q", nd.id, g, v, err, want)
				}
				<-time.After(2 * time.Millisecond)
			}
		}
	}
}
