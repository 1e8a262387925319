package logstore

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
)

// Readers run while one writer appends, overwrites, compacts and purges:
// every read sees entries that were written, with the data written for
// them, and nothing races (run with -race).
func TestReadersDuringWrites(t *testing.T) {
	opts := Options{SegmentBytes: 16 << 10, PurgeThresholdBytes: 64 << 10, GroupCacheBytesMax: 2 << 10}
	s, _, err := OpenInMemory(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const groups = 4
	data := func(g, term, i uint64) []byte { return []byte(fmt.Sprintf("g%d t%d i%d", g, term, i)) }
	var done atomic.Bool
	var wg sync.WaitGroup
	for g := uint64(1); g <= groups; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s.Storage(g)
			for !done.Load() {
				first, _ := st.FirstIndex()
				last, _ := st.LastIndex()
				if first > last {
					continue
				}
				ents, err := st.Entries(first, last+1, 1<<10)
				if errors.Is(err, consensus.ErrCompacted) || errors.Is(err, consensus.ErrUnavailable) {
					continue // the log moved between the calls
				}
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range ents {
					if !bytes.Equal(e.Data, data(g, e.Term, e.Index)) {
						t.Errorf("group %d entry %d term %d: data %q", g, e.Index, e.Term, e.Data)
						return
					}
				}
			}
		}()
	}
	var b Batch
	last := map[uint64]uint64{}
	for round := uint64(1); round <= 600; round++ {
		for g := uint64(1); g <= groups; g++ {
			from := last[g] + 1
			if round%37 == 0 && last[g] > 10 {
				from = last[g] - 5 // a new leader overwrites the tail
			}
			var ents []consensus.Entry
			for i := from; i < from+8; i++ {
				ents = append(ents, consensus.Entry{Term: round, Index: i, Data: data(g, round, i)})
			}
			b.Append(g, ents)
			last[g] = from + 7
			if round%50 == 0 {
				b.Compact(g, last[g]-100, consensus.Membership{Voters: []uint64{1}})
			}
		}
		if err := s.Write(&b); err != nil {
			t.Fatal(err)
		}
		b.Reset()
	}
	done.Store(true)
	wg.Wait()
}
