package logstore

import (
	"fmt"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore/vfs"
)

func TestSmoke(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{Dir: "/wal", FS: fs, SegmentBytes: 8 << 10, PurgeThresholdBytes: 32 << 10, ManualPurge: true}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for i := uint64(1); i <= 200; i++ {
		b.Reset()
		for g := uint64(1); g <= 3; g++ {
			b.Append(g, []consensus.Entry{{Term: 1, Index: i, Data: []byte(fmt.Sprintf("g%d-e%d", g, i))}})
			b.SetHardState(g, consensus.HardState{Term: 1, Commit: i})
		}
		if i%50 == 0 {
			b.Compact(2, i-10, consensus.Membership{Voters: []uint64{1, 2, 3}})
		}
		if err := s.Write(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Purge(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", s.Stats())
	check := func(s *Store) {
		for g := uint64(1); g <= 3; g++ {
			st := s.Storage(g)
			f, _ := st.FirstIndex()
			l, _ := st.LastIndex()
			ents, err := st.Entries(f, l+1, 1<<30)
			if err != nil {
				t.Fatal(g, err)
			}
			if len(ents) == 0 || ents[len(ents)-1].Index != l {
				t.Logf("g%d partial %d entries [%d..]", g, len(ents), f)
			}
			for _, e := range ents {
				if string(e.Data) != fmt.Sprintf("g%d-e%d", g, e.Index) {
					t.Fatalf("g%d entry %d: %q", g, e.Index, e.Data)
				}
			}
			hs, _ := st.InitialState()
			t.Logf("group %d: [%d, %d] hs %+v stats %+v", g, f, l, hs, s.GroupStats(g))
		}
	}
	check(s)
	s2, err := Open(Options{Dir: "/wal", FS: fs.Crash(), SegmentBytes: 8 << 10, PurgeThresholdBytes: 32 << 10, ManualPurge: true})
	if err != nil {
		t.Fatal(err)
	}
	check(s2)
	t.Logf("%+v", s2.Stats())
}
