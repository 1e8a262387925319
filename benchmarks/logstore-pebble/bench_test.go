// Package bench compares raftpipe's logstore with the two other ways to keep
// the Raft logs of many groups on one disk: entries as keys in an LSM
// (Pebble), and the ceiling, a plain preallocated file that receives only
// the entries' payload bytes.
//
// What is measured: one group commit per b.Loop iteration. A write carries
// batch entries of size random bytes, spread over groups (batch/groups
// contiguous entries per group, continuing where the group left off), and
// one hard state per group, and returns once it is durable: after one
// fdatasync for logstore and raw, after Pebble's WAL sync for pebble
// (pebble.Sync). ns/op is the latency of one group commit; MB/s counts
// payload bytes only, the same bytes for every implementation, so its ratio
// between rows is the ratio of useful work; entries/s is the same figure in
// entries; entries/fsync comes from logstore's own counters, and is entries
// per write for pebble and raw, which sync once per write by construction.
// log-B/entry is what the synced writes carried per entry: logstore's
// records, Pebble's WAL (its sstable writes, flushes and compactions, come
// on top and are not counted), raw's payload.
//
// Why it is fair: all three write to the same ext4 disk (b.TempDir), from
// one goroutine, the same entries in the same order, and each pays for its
// own encoding inside the loop. Pebble gets the settings its own benchmark
// tool uses to keep sustained writes from stalling (pebble_test.go says
// which and why) and the cheapest way to fill a batch (SetDeferred, no
// intermediate copy). raw pays for the least a
// durable log can do: one copy into one buffer, one write, one fdatasync,
// and the preallocation and directory sync of a fresh file when one fills.
// Neither logstore nor Pebble truncates its log during the run. Building the
// entries (one slice per write, payload shared) is inside the loop too, and
// the same for all three.
//
// TestImplementationsAgree reads back what each implementation wrote, so
// that the benchmark cannot silently measure a broken one.
package bench

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
)

// store is one design of a host's Raft log, as the benchmark drives it.
type store interface {
	// write makes one group commit durable: for every group in order, its
	// entries, then its hard state.
	write(ws []groupWrite) error
	// counters returns, so far, the entries written, the syncs that made
	// them durable, and the bytes written to the log for them.
	counters() (entries, syncs, logBytes uint64)
	close() error
}

// reader reads a store back, for TestImplementationsAgree. raw does not
// implement it: its bytes carry no index, so the test reads its files.
type reader interface {
	entry(group, index uint64) (consensus.Entry, error)
	hardState(group uint64) (consensus.HardState, error)
}

// impls are the implementations compared. segmentBytes is the size of a
// log file for logstore and raw, zero for the benchmark's default of 64 MiB;
// Pebble has no such knob.
var impls = []struct {
	name string
	open func(dir string, segmentBytes int64) (store, error)
}{
	{"logstore", openLogstore},
	{"pebble", openPebble},
	{"raw", openRaw},
}

// batches returns the entries per write to measure for an entry size and a
// group count: at least one entry per group, 256 in general (large batches:
// 256 KiB of 1 KiB entries), and also 16 for 128-byte entries, where every
// group still gets one.
func batches(size, groups int) []int {
	bs := []int{max(256, groups)}
	if size == 128 && groups <= 16 {
		bs = append(bs, 16)
	}
	return bs
}

// BenchmarkAppend names its rows size=/groups=/batch=/impl= so that
// `benchstat -col /impl` puts the three implementations side by side.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{16, 128, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			for _, groups := range []int{1, 16, 256} {
				b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
					for _, batch := range batches(size, groups) {
						b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
							for _, impl := range impls {
								b.Run("impl="+impl.name, func(b *testing.B) {
									benchAppend(b, impl.open, size, groups, batch)
								})
							}
						})
					}
				})
			}
		})
	}
}

func benchAppend(b *testing.B, open func(string, int64) (store, error), size, groups, batch int) {
	// Write back what earlier rows left dirty (Pebble's tables, removed
	// directories), so that a row does not pay for its predecessor.
	syscall.Sync()
	s, err := open(b.TempDir(), 0)
	if err != nil {
		b.Fatal(err)
	}
	w := newWorkload(size, groups, batch/groups, false)
	b.SetBytes(int64(batch * size)) // MB/s: payload bytes only
	entries0, syncs0, bytes0 := s.counters()
	writes := 0
	for b.Loop() {
		if err := s.write(w.next()); err != nil {
			b.Fatal(err)
		}
		writes++
	}
	entries, syncs, logBytes := s.counters()
	entries, syncs, logBytes = entries-entries0, syncs-syncs0, logBytes-bytes0
	if err := s.close(); err != nil {
		b.Fatal(err)
	}
	if want := uint64(writes * batch); entries != want || syncs == 0 {
		b.Fatalf("store counted %d entries in %d syncs, benchmark wrote %d in %d writes",
			entries, syncs, want, writes)
	}
	b.ReportMetric(float64(writes*batch)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(entries)/float64(syncs), "entries/fsync")
	b.ReportMetric(float64(logBytes)/float64(entries), "log-B/entry")
}
