package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/logstore"
)

// pebbleHost is a single-voter host whose groups keep their state in one
// Pebble store on the disk.
type pebbleHost struct {
	h     *raftpipe.Host
	store *Store
}

func startPebbleHost(t testing.TB, dir string, groups int, tune ...func(*raftpipe.Config)) *pebbleHost {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	cfg := raftpipe.Config{NodeID: 1, DataDir: dir, ListenAddr: "127.0.0.1:0", Logger: quiet}
	for _, f := range tune {
		f(&cfg)
	}
	h, err := raftpipe.NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := Open(Options{Dir: filepath.Join(dir, "kv"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for g := uint64(1); g <= uint64(groups); g++ {
		m, err := store.Machine(g)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.StartGroup(t.Context(), g, raftpipe.Membership{Voters: []uint64{1}}, m); err != nil {
			t.Fatal(err)
		}
	}
	return &pebbleHost{h: h, store: store}
}

func (p *pebbleHost) stop(t testing.TB) {
	t.Helper()
	if err := p.h.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.store.Close(); err != nil {
		t.Fatal(err)
	}
}

func (p *pebbleHost) propose(t testing.TB, group uint64, cmd []byte) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		res, err := p.h.Propose(ctx, group, cmd)
		cancel()
		if err == nil {
			return res
		}
		if !errors.Is(err, raftpipe.ErrNotLeader) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		<-time.After(5 * time.Millisecond) // the lone voter elects itself after an election timeout
	}
}

// Groups on a host keep their state in its Pebble store: writes are
// applied through the pipeline and read back linearizably; after a clean
// restart the state is there at once and the log's entries are not
// applied a second time, only what follows.
func TestHostOnPebbleRestartsWithoutReplay(t *testing.T) {
	dir := t.TempDir()
	p := startPebbleHost(t, dir, 2)
	for g := uint64(1); g <= 2; g++ {
		for i := range 100 {
			p.propose(t, g, EncodePut(nil, fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "g%d-%d", g, i)))
		}
		res := p.propose(t, g, EncodeCAS(nil, []byte("k000"), fmt.Appendf(nil, "g%d-0", g), []byte("swapped")))
		if res[0] != StatusOK {
			t.Fatalf("group %d compare-and-set: %v", g, res)
		}
	}
	v, err := p.h.Read(t.Context(), 1, EncodeGet(nil, []byte("k000")), raftpipe.Linearizable)
	if err != nil || string(v) != "swapped" {
		t.Fatalf("read k000: %q, %v", v, err)
	}
	applied := p.h.Stats().Stages.Apply.Items
	p.stop(t)

	p = startPebbleHost(t, dir, 2)
	defer p.stop(t)
	if v, err := p.h.Read(t.Context(), 2, EncodeGet(nil, []byte("k099")), raftpipe.Stale); err != nil || string(v) != "g2-99" {
		t.Fatalf("after the restart, before any entry: k099=%q, %v", v, err)
	}
	p.propose(t, 1, EncodePut(nil, []byte("after"), []byte("restart")))
	// The new term's no-op and the write: nothing of the 200-odd entries
	// applied before the restart.
	if again := p.h.Stats().Stages.Apply.Items; again > 4 {
		t.Fatalf("after a clean restart the apply stage applied %d entries (before it: %d); want only the new ones", again, applied)
	}
}

// With a snapshot policy the log is compacted behind the Pebble state,
// which is synced first: a restart finds the state at or past the log's
// snapshot, starts, and serves every key.
func TestHostOnPebbleCompactsAndRestarts(t *testing.T) {
	dir := t.TempDir()
	policy := func(c *raftpipe.Config) { c.SnapshotEntries, c.SnapshotTailEntries = 200, 50 }
	p := startPebbleHost(t, dir, 1, policy)
	for i := range 1000 {
		p.propose(t, 1, EncodePut(nil, fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "v%d", i)))
	}
	snaps := filepath.Join(dir, "state-snapshots", "1")
	deadline := time.Now().Add(20 * time.Second)
	oldest := func() uint64 { // the snapshot the log was compacted to
		ents, _ := os.ReadDir(snaps)
		var min uint64
		for _, e := range ents {
			if i, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && (min == 0 || i < min) {
				min = i
			}
		}
		return min
	}
	for n := 0; ; n++ {
		if oldest() >= 500 {
			break
		}
		p.propose(t, 1, EncodePut(nil, fmt.Appendf(nil, "extra-%d", n), nil)) // snapshots follow the writes
		if time.Now().After(deadline) {
			t.Fatal("the log was never compacted past 500")
		}
	}
	p.stop(t)
	wal, err := logstore.Open(logstore.Options{Dir: filepath.Join(dir, "wal")})
	if err != nil {
		t.Fatal(err)
	}
	first := wal.GroupStats(1).First
	wal.Close()
	if first < 500 {
		t.Fatalf("the log still starts at %d after 1,000 entries with a snapshot every 200", first)
	}
	p = startPebbleHost(t, dir, 1, policy)
	defer p.stop(t)
	for _, i := range []int{0, 499, 999} {
		v, err := p.h.Read(t.Context(), 1, EncodeGet(nil, fmt.Appendf(nil, "k%04d", i)), raftpipe.Stale)
		if err != nil || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("after the restart: k%04d = %q, %v", i, v, err)
		}
	}
	p.propose(t, 1, EncodePut(nil, []byte("after"), []byte("restart")))
}
