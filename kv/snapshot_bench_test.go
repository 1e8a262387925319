package kv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/raftpipe/raftpipe/fsm"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/transport"
)

var snapshotMiB = flag.Int("kv.snapshot-mib", 64, "MiB of 1 KiB values in the group BenchmarkSnapshot moves (make bench-snapshot: 1024)")

const benchValueBytes = 1 << 10

// BenchmarkSnapshot moves one group's state, -kv.snapshot-mib of 1 KiB
// values on the real disk, from one host's Pebble into a fresh one, each
// phase a sub-benchmark reporting MB/s of the group's data:
//
//   - create: PrepareSnapshot and Write, the SST files from a Pebble
//     snapshot;
//   - transfer: the archive of those files through a transport snapshot
//     stream over loopback, extracted (and checked) on the far side;
//   - ingest: Install, verify and IngestAndExcise into the receiver;
//   - batches: the naive way, the same keys written into the receiver with
//     Pebble batches of 1,000, then flushed, so both end durable.
//
// Compare ingest with batches: the goal is at least 3x.
func BenchmarkSnapshot(b *testing.B) {
	keys := *snapshotMiB << 20 / benchValueBytes
	dir := b.TempDir()
	src, err := Open(Options{Dir: filepath.Join(dir, "src"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	const group = 7
	fillRaw(b, src.db, group, keys)
	m, err := src.Machine(group)
	if err != nil {
		b.Fatal(err)
	}
	dataMB := float64(keys*benchValueBytes) / 1e6
	report := func(b *testing.B, d time.Duration) {
		b.ReportMetric(dataMB*float64(b.N)/d.Seconds(), "MB/s")
		b.ReportMetric(0, "ns/op")
	}
	var man fsm.SnapshotManifest
	snapDir := filepath.Join(dir, "snap")
	b.Run("create", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			os.RemoveAll(snapDir)
			start := time.Now()
			s, err := m.prepareSnapshot()
			if err != nil {
				b.Fatal(err)
			}
			man, err = s.write(snapDir, 64<<20)
			s.Close()
			if err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		report(b, total)
	})
	inDir := filepath.Join(dir, "in")
	b.Run("transfer", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			os.RemoveAll(inDir)
			total += transferArchive(b, dir, snapDir, inDir, man)
		}
		report(b, total)
	})
	b.Run("ingest", func(b *testing.B) {
		var total time.Duration
		for i := 0; b.Loop(); i++ {
			dst, err := Open(Options{Dir: filepath.Join(dir, fmt.Sprintf("ingest%d", i)), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			// Install consumes its files: give each round a copy.
			round := filepath.Join(dir, fmt.Sprintf("in%d", i))
			copyDir(b, inDir, round, man)
			start := time.Now()
			if err := dst.Install(context.Background(), round, man); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
			dst.Close()
			os.RemoveAll(round)
		}
		report(b, total)
	})
	b.Run("batches", func(b *testing.B) {
		var total time.Duration
		for i := 0; b.Loop(); i++ {
			dst, err := Open(Options{Dir: filepath.Join(dir, fmt.Sprintf("batches%d", i)), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			fillRaw(b, dst.db, group, keys)
			if err := dst.Flush(); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
			dst.Close()
		}
		report(b, total)
	})
}

// fillRaw writes n keys of group with 1 KiB random values and the applied
// index n, in batches of 1,000.
func fillRaw(b *testing.B, db *pebble.DB, group uint64, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, benchValueBytes)
	batch := db.NewBatch()
	for i := range n {
		for j := 0; j < len(val); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				val[j+k] = byte(v >> (8 * k))
			}
		}
		batch.Set(dataKey(nil, group, fmt.Appendf(nil, "key%010d", i)), val, nil)
		if batch.Count() == 1000 || i == n-1 {
			if i == n-1 {
				batch.Set(appliedKey(group), appendUint64(uint64(n)), nil)
			}
			if err := batch.Commit(pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	batch.Close()
}

func appendUint64(v uint64) []byte {
	return []byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// transferArchive sends the archive of the snapshot in snapDir through a
// transport snapshot stream between two transports on loopback and
// extracts it into inDir, returning the time from the first archive byte
// to the last file extracted and checked.
func transferArchive(b *testing.B, dir, snapDir, inDir string, man fsm.SnapshotManifest) time.Duration {
	recv := &snapshotSink{got: make(chan transport.ReceivedSnapshot, 1)}
	quiet := slog.New(slog.DiscardHandler)
	rx, err := transport.New(transport.Config{ClusterID: 1, NodeID: 2, ListenAddr: "127.0.0.1:0", Handler: recv, Logger: quiet, SnapshotDir: filepath.Join(dir, "rx")})
	if err != nil {
		b.Fatal(err)
	}
	defer rx.Close()
	tx, err := transport.New(transport.Config{ClusterID: 1, NodeID: 1, ListenAddr: "127.0.0.1:0", Handler: &snapshotSink{}, Logger: quiet,
		SnapshotDir: filepath.Join(dir, "tx"), Peers: map[uint64]string{2: rx.Addr().String()}})
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Close()
	start := time.Now()
	archive := filepath.Join(dir, "archive")
	f, err := os.Create(archive)
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(archive)
	defer f.Close()
	if err := fsm.WriteArchive(f, vfs.Default, snapDir, man); err != nil {
		b.Fatal(err)
	}
	msg := consensus.Message{Type: consensus.MsgSnap, From: 1, To: 2, Term: 1,
		Snapshot: &consensus.SnapshotMeta{Index: man.Index, Term: 1, Membership: consensus.Membership{Voters: []uint64{1, 2}}}}
	if err := tx.SendSnapshot(transport.OutgoingSnapshot{Group: man.Group, Message: msg, Data: f, Size: fsm.ArchiveBytes(man)}); err != nil {
		b.Fatal(err)
	}
	var got transport.ReceivedSnapshot
	select {
	case got = <-recv.got:
	case <-time.After(5 * time.Minute):
		b.Fatal("the snapshot never arrived")
	}
	in, err := os.Open(got.Path)
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(got.Path)
	defer in.Close()
	if _, err := fsm.ExtractArchive(in, vfs.Default, inDir); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// snapshotSink is a transport handler that keeps the snapshots it gets.
type snapshotSink struct {
	got chan transport.ReceivedSnapshot
}

func (s *snapshotSink) HandleMessages([]transport.Msg) {}
func (s *snapshotSink) HandleSnapshot(r transport.ReceivedSnapshot) error {
	if s.got == nil {
		return errors.New("not expecting snapshots")
	}
	s.got <- r
	return nil
}
func (s *snapshotSink) Unreachable(uint64)                  {}
func (s *snapshotSink) SnapshotStatus(uint64, uint64, bool) {}

func copyDir(b *testing.B, from, to string, man fsm.SnapshotManifest) {
	if err := os.MkdirAll(to, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, f := range man.Files {
		data, err := os.ReadFile(filepath.Join(from, f.Name))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f.Name), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
