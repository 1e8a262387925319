package stages

import (
	"testing"
	"time"
)

func TestDurationHistogramBucketsMilliseconds(t *testing.T) {
	var c durationCounter
	for _, d := range []time.Duration{0, 500 * time.Microsecond, time.Millisecond, 3 * time.Millisecond, 24 * time.Hour} {
		c.record(d)
	}
	h := c.load()
	want := map[int]uint64{0: 3, 1: 1, HistogramBuckets - 1: 1} // [0,2) ms, [2,4) ms, and everything past the last bound
	for i, n := range h.Millis {
		if n != want[i] {
			t.Fatalf("buckets %v, want %v", h.Millis, want)
		}
	}
	if h.Total != 24*time.Hour+4500*time.Microsecond {
		t.Fatalf("total %s", h.Total)
	}
}

func TestStageStatsReportCapacity(t *testing.T) {
	s, err := NewApplyStage(64, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.QueueCapacity != 64 || st.QueueDepth != 0 {
		t.Fatalf("depth %d of %d, want 0 of 64", st.QueueDepth, st.QueueCapacity)
	}
}
