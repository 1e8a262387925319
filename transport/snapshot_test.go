package transport

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
)

func snapMsg(from, to, index uint64) consensus.Message {
	return consensus.Message{Type: consensus.MsgSnap, From: from, To: to, Term: 4,
		Snapshot: &consensus.SnapshotMeta{Index: index, Term: 4, Membership: consensus.Membership{Voters: []uint64{1, 2, 3}}}}
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

// gatedReader serves data, but a read at or past gateAt blocks until the
// gate opens: a stream held in the middle.
type gatedReader struct {
	data   []byte
	gateAt int64
	gate   chan struct{}
	held   atomic.Bool
}

func (g *gatedReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= g.gateAt {
		g.held.Store(true)
		<-g.gate
	}
	return bytes.NewReader(g.data).ReadAt(p, off)
}

func checkReceived(t *testing.T, rec *recorder, group uint64, want []byte) {
	t.Helper()
	rec.mu.Lock()
	snaps := slices.Clone(rec.snaps)
	rec.mu.Unlock()
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots handed on, want 1", len(snaps))
	}
	s := snaps[0]
	if s.Group != group || s.Message.Type != consensus.MsgSnap || s.Message.Snapshot.Index != 100 || s.Size != int64(len(want)) {
		t.Fatalf("received %+v", s)
	}
	got, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("received snapshot differs from what was sent (%d bytes vs %d)", len(got), len(want))
	}
}

func waitStatus(t *testing.T, rec *recorder, want snapshotStatus) {
	t.Helper()
	waitFor(t, 30*time.Second, "snapshot status", func() bool { return len(rec.snapshotStatuses()) > 0 })
	if got := rec.snapshotStatuses(); len(got) != 1 || got[0] != want {
		t.Fatalf("snapshot statuses %v, want [%v]", got, want)
	}
}

// A 100 MiB snapshot streams while Raft messages keep flowing: held in the
// middle, the Raft link still carries round trips; running free, the
// messages sent beside it are delivered with bounded delay. The result is
// byte-identical.
func TestSnapshot100MiBWhileRaftFlows(t *testing.T) {
	const size = 100 << 20
	trs, recs := cluster(t, 2, nil)
	data := randomBytes(size, 1)
	g := &gatedReader{data: data, gateAt: size / 2, gate: make(chan struct{})}
	if err := trs[0].SendSnapshot(OutgoingSnapshot{Group: 9, Message: snapMsg(1, 2, 100), Data: g, Size: size}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the stream held in the middle", g.held.Load)
	for i := range 200 {
		trs[0].Send([]Msg{heartbeat(1, 1, 2, uint64(i+1))})
		waitFor(t, 5*time.Second, "a message past a held snapshot", func() bool { return recs[1].count() == i+1 })
	}

	// Now let it run and time messages sent beside it.
	var maxDelay atomic.Int64
	sent := make(map[uint64]time.Time)
	var mu sync.Mutex
	recs[1].mu.Lock()
	recs[1].onMessages = func(batch []Msg) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			if at, ok := sent[m.Round]; ok {
				if d := int64(time.Since(at)); d > maxDelay.Load() {
					maxDelay.Store(d)
				}
			}
		}
	}
	recs[1].mu.Unlock()
	close(g.gate)
	round := uint64(1000)
	tick := time.NewTicker(time.Millisecond)
	for len(recs[0].snapshotStatuses()) == 0 {
		<-tick.C
		round++
		mu.Lock()
		sent[round] = time.Now()
		mu.Unlock()
		trs[0].Send([]Msg{heartbeat(1, 1, 2, round)})
	}
	tick.Stop()
	waitStatus(t, recs[0], snapshotStatus{9, 2, true})
	checkReceived(t, recs[1], 9, data)
	t.Logf("%d messages sent beside the free-running stream; worst delay %s", round-1000, time.Duration(maxDelay.Load()))
	if d := time.Duration(maxDelay.Load()); d > 2*time.Second {
		t.Fatalf("a Raft message took %s beside a snapshot stream", d)
	}
}

// A stream cut in the middle resumes from the last verified chunk on a new
// connection, and the result is byte-identical.
func TestSnapshotCutStreamResumes(t *testing.T) {
	const size = 20 << 20
	trs, recs := cluster(t, 2, nil)
	data := randomBytes(size, 2)
	g := &gatedReader{data: data, gateAt: size / 2, gate: make(chan struct{})}
	if err := trs[0].SendSnapshot(OutgoingSnapshot{Group: 3, Message: snapMsg(1, 2, 100), Data: g, Size: size}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the stream half way", g.held.Load)
	waitFor(t, 30*time.Second, "the first half received", func() bool { return trs[1].Stats().SnapshotBytesReceived == size/2 })
	trs[1].snap.close() // cut: the receiver's end of the stream goes away
	close(g.gate)
	waitStatus(t, recs[0], snapshotStatus{3, 2, true})
	checkReceived(t, recs[1], 3, data)
	s0, s1 := trs[0].Stats(), trs[1].Stats()
	if s0.SnapshotResumes != 1 {
		t.Fatalf("%d resumes, want 1", s0.SnapshotResumes)
	}
	if s1.SnapshotBytesReceived != size {
		t.Fatalf("%d bytes received for a %d-byte snapshot: the resume did not start at the cut", s1.SnapshotBytesReceived, size)
	}
}

// A partial file whose chunk no longer verifies (a crash, a bad disk) is
// resumed from that chunk, not from its end.
func TestSnapshotPartialRecoverStopsAtBadChunk(t *testing.T) {
	dir := t.TempDir()
	key := streamKey{from: 1, group: 2, term: 3, index: 4, size: 10 * 4096}
	data := randomBytes(int(key.size), 3)
	p, err := openPartial(dir, key, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.recover(); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		c := data[i*4096 : (i+1)*4096]
		if err := p.append(c, crc32c(c)); err != nil {
			t.Fatal(err)
		}
	}
	p.data.WriteAt([]byte{data[4*4096+7] ^ 1}, 4*4096+7) // chunk 4 rots
	p.close()

	p, err = openPartial(dir, key, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	whole, err := p.recover()
	if err != nil {
		t.Fatal(err)
	}
	if p.good != 4*4096 || whole != crc32c(data[:4*4096]) {
		t.Fatalf("recovered %d bytes (crc %#x), want the 4 chunks before the bad one", p.good, whole)
	}
	if st, _ := p.data.Stat(); st.Size() != 4*4096 {
		t.Fatalf("partial file is %d bytes after recovery, want it cut to %d", st.Size(), 4*4096)
	}
}

// Streams are bounded both ways: the receiver answers busy beyond its
// bound (and the sender retries later), the sender refuses beyond its
// queue.
func TestSnapshotStreamsAreBounded(t *testing.T) {
	trs, recs := cluster(t, 3, func(c *Config) {
		c.SnapshotRecvStreamsMax = 1
		c.SnapshotSendStreamsMax = 1
		c.SnapshotQueueMax = 2
		c.SnapshotAttemptsMax = 50
	})
	const size = 4 << 20
	d1, d3 := randomBytes(size, 4), randomBytes(size, 5)
	g1 := &gatedReader{data: d1, gateAt: size / 2, gate: make(chan struct{})}
	if err := trs[0].SendSnapshot(OutgoingSnapshot{Group: 1, Message: snapMsg(1, 2, 100), Data: g1, Size: size}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the first stream held", g1.held.Load)
	// Node 2's one receive slot is taken: node 3's stream is told busy.
	if err := trs[2].SendSnapshot(OutgoingSnapshot{Group: 2, Message: snapMsg(3, 2, 100), Data: bytes.NewReader(d3), Size: size}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a busy answer", func() bool { return trs[2].Stats().Errors[KindSnapshot] > 0 })
	// Node 1's send slot is taken and its queue holds one more: a third is refused.
	if err := trs[0].SendSnapshot(OutgoingSnapshot{Group: 5, Message: snapMsg(1, 3, 100), Data: bytes.NewReader(d1), Size: size}); err != nil {
		t.Fatal(err)
	}
	if err := trs[0].SendSnapshot(OutgoingSnapshot{Group: 6, Message: snapMsg(1, 3, 100), Data: bytes.NewReader(d1), Size: size}); err == nil {
		t.Fatal("a send beyond the queue bound was accepted")
	}
	close(g1.gate)
	waitFor(t, 30*time.Second, "all streams done", func() bool {
		return len(recs[0].snapshotStatuses()) == 2 && len(recs[2].snapshotStatuses()) == 1
	})
	for _, s := range append(recs[0].snapshotStatuses(), recs[2].snapshotStatuses()...) {
		if !s.ok {
			t.Fatalf("stream %v failed", s)
		}
	}
}

// A stream that cannot get through is reported failed, so consensus can
// probe again and send a new one; a snapshot the receiver's handler
// refuses is reported failed at once, without retrying.
func TestSnapshotFailuresAreReported(t *testing.T) {
	t.Run("peer down", func(t *testing.T) {
		rec := newRecorder()
		cfg := testConfig(t, 1, rec)
		cfg.SnapshotAttemptsMax = 3
		tr := startTransport(t, cfg)
		dead := startTransport(t, testConfig(t, 2, newRecorder()))
		addr := dead.Addr().String()
		dead.Close()
		tr.AddPeer(2, addr)
		if err := tr.SendSnapshot(OutgoingSnapshot{Group: 4, Message: snapMsg(1, 2, 100), Data: bytes.NewReader(nil), Size: 0}); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, rec, snapshotStatus{4, 2, false})
		if f := tr.Stats().SnapshotsFailed; f != 1 {
			t.Fatalf("%d failed snapshots counted", f)
		}
	})
	t.Run("handler refuses", func(t *testing.T) {
		trs, recs := cluster(t, 2, nil)
		recs[1].snapErr = os.ErrPermission
		data := randomBytes(1<<20, 6)
		if err := trs[0].SendSnapshot(OutgoingSnapshot{Group: 4, Message: snapMsg(1, 2, 100), Data: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, recs[0], snapshotStatus{4, 2, false})
		if n := trs[1].Stats().SnapshotBytesReceived; n != 1<<20 {
			t.Fatalf("%d bytes received: a refused snapshot was sent again", n)
		}
	})
}
