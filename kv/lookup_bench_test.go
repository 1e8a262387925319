package kv

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/raftpipe/raftpipe/fsm"
)

// BenchmarkReadKeys is the query of a run of Redis GETs (an MGET of the
// run's keys) against a store of 200,000 flushed keys, half of the keys
// asked for absent, as redis-benchmark -r asks: the cost per key of the
// read path below the server.
func BenchmarkReadKeys(b *testing.B) {
	const stored = 200_000
	o := DefaultOptions()
	o.Dir, o.Logger = b.TempDir(), slog.New(slog.DiscardHandler)
	s, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m, err := s.Machine(1)
	if err != nil {
		b.Fatal(err)
	}
	var ents []fsm.Entry
	for i := range stored {
		ents = append(ents, fsm.Entry{Index: uint64(i + 1), Cmd: EncodePut(nil, fmt.Appendf(nil, "key:%012d", 2*i), []byte("xxx"))})
		if len(ents) == 1000 || i == stored-1 {
			if err := m.Update(ents); err != nil {
				b.Fatal(err)
			}
			if err := s.Commit(); err != nil {
				b.Fatal(err)
			}
			ents = ents[:0]
		}
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	for _, run := range []int{1, 16} {
		b.Run(fmt.Sprintf("keys=%d", run), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			keys := make([][]byte, run)
			for b.Loop() {
				for i := range keys {
					keys[i] = fmt.Appendf(keys[i][:0], "key:%012d", r.IntN(2*stored)) // odd: absent
				}
				if _, err := m.Lookup(EncodeMGet(nil, keys...)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*run), "ns/key")
		})
	}
}
