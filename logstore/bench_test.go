package logstore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
)

// BenchmarkWrite is one group-commit Write per iteration, on the real
// disk: batch entries of size bytes spread over groups, a hard state per
// group, one fdatasync. benchmarks/logstore-pebble puts the same workload
// beside Pebble and a raw file.
func BenchmarkWrite(b *testing.B) {
	for _, c := range []struct{ size, groups, batch int }{
		{128, 1, 16}, {128, 16, 256}, {1024, 16, 1024}, {16, 256, 256},
	} {
		b.Run(fmt.Sprintf("size=%d/groups=%d/batch=%d", c.size, c.groups, c.batch), func(b *testing.B) {
			s, err := Open(Options{Dir: b.TempDir(), ManualPurge: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			payload := make([]byte, c.size*c.batch)
			for i := range payload {
				payload[i] = byte(rand.Uint32())
			}
			next := make([]uint64, c.groups+1)
			var bt Batch
			for b.Loop() {
				bt.Reset()
				ents := make([]consensus.Entry, c.batch) // the store keeps them
				per := c.batch / c.groups
				for g := 1; g <= c.groups; g++ {
					part := ents[(g-1)*per : g*per]
					for i := range part {
						next[g]++
						k := (g-1)*per + i
						part[i] = consensus.Entry{Term: 1, Index: next[g], Data: payload[k*c.size : (k+1)*c.size]}
					}
					bt.Append(uint64(g), part)
					bt.SetHardState(uint64(g), consensus.HardState{Term: 1, Commit: next[g]})
				}
				if err := s.Write(&bt); err != nil {
					b.Fatal(err)
				}
			}
			st := s.Stats()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(st.Entries)/sec, "entries/s")
			b.ReportMetric(float64(st.Entries)*float64(c.size)/sec/1e6, "MB/s")
			b.ReportMetric(st.EntriesPerSync, "entries/fsync")
			b.ReportMetric(float64(st.SyncNanos)/float64(st.Syncs)/1e3, "µs/fsync")
		})
	}
}
