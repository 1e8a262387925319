package logstore

import (
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
)

// A group's memory stays within its cache budget plus an index that grows
// with the entries it keeps, not with the entries it ever wrote.
func TestGroupMemoryIsBounded(t *testing.T) {
	const cacheMax, keep = 16 << 10, 200
	s, _, err := OpenInMemory(nil, Options{GroupCacheBytesMax: cacheMax, SegmentBytes: 64 << 10, PurgeThresholdBytes: 256 << 10, ManualPurge: true})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 100)
	var b Batch
	var worst GroupStats
	for i := uint64(1); i <= 20000; i++ {
		b.Append(1, []consensus.Entry{{Term: 1, Index: i, Data: data}})
		if i%keep == 0 {
			b.Compact(1, i-keep, consensus.Membership{Voters: []uint64{1}})
		}
		mustWrite(t, s, &b)
		st := s.GroupStats(1)
		if st.CacheBytes > cacheMax {
			t.Fatalf("after %d entries the cache holds %d bytes, budget %d", i, st.CacheBytes, cacheMax)
		}
		if st.IndexBytes > worst.IndexBytes {
			worst = st
		}
	}
	// At most 2*keep entries are live between compactions, one run each;
	// the slice may have twice the room.
	if bound := int64(4*keep) * runBytes; worst.IndexBytes > bound {
		t.Errorf("index grew to %d bytes (%+v), bound %d", worst.IndexBytes, worst, bound)
	}
	if err := s.Purge(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.SegmentBytes > 256<<10 {
		t.Errorf("after purge the log holds %d bytes, threshold %d", st.SegmentBytes, 256<<10)
	}
}
