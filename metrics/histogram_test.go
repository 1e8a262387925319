package metrics

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestLog2BucketsAreCumulativeWithPowerOfTwoBounds(t *testing.T) {
	// 3 observations in [1,2) µs, none in [2,4), 5 in [4,8), 2 in [8,16),
	// and 7 in the last bucket, which holds everything from 16 µs up.
	h := Log2{Counts: []uint64{3, 0, 5, 2, 7}, Unit: 1e-6}
	count, upper := h.Buckets()
	if count != 17 {
		t.Errorf("count %d, want 17 (every bucket, the last included)", count)
	}
	want := map[float64]uint64{2e-6: 3, 4e-6: 3, 8e-6: 8, 16e-6: 10}
	if len(upper) != len(want) {
		t.Fatalf("bounds %v, want %v: the last bucket has no finite bound", upper, want)
	}
	for le, n := range want {
		got, ok := upper[le]
		if !ok {
			t.Errorf("no bound %g in %v", le, upper)
			continue
		}
		if got != n {
			t.Errorf("le=%g: %d, want %d", le, got, n)
		}
	}
}

func TestLog2ZeroUnitCountsItems(t *testing.T) {
	_, upper := Log2{Counts: []uint64{1, 1, 1}}.Buckets()
	if upper[2] != 1 || upper[4] != 2 {
		t.Fatalf("bounds %v, want le=2:1 le=4:2", upper)
	}
}

func TestLog2EmptyHistogram(t *testing.T) {
	count, upper := Log2{}.Buckets()
	if count != 0 || len(upper) != 0 {
		t.Fatalf("empty histogram gave count %d bounds %v", count, upper)
	}
}

// The converted buckets make a valid Prometheus histogram whose +Inf
// bucket is the count and whose sum is the one given.
func TestLog2MakesAPrometheusHistogram(t *testing.T) {
	h := Log2{Counts: []uint64{4, 2, 0, 1}, Unit: 1e-3, Sum: 0.0123}
	count, upper := h.Buckets()
	desc := prometheus.NewDesc("raftpipe_test_seconds", "test", nil, nil)
	m, err := prometheus.NewConstHistogram(desc, count, h.Sum, upper)
	if err != nil {
		t.Fatal(err)
	}
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	ph := pb.GetHistogram()
	if ph.GetSampleCount() != 7 || ph.GetSampleSum() != 0.0123 {
		t.Fatalf("count %d sum %g, want 7 and 0.0123", ph.GetSampleCount(), ph.GetSampleSum())
	}
	var bounds []float64
	var cum []uint64
	for _, b := range ph.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		cum = append(cum, b.GetCumulativeCount())
	}
	wantBounds, wantCum := []float64{0.002, 0.004, 0.008}, []uint64{4, 6, 6}
	if len(bounds) != len(wantBounds) {
		t.Fatalf("bounds %v, want %v", bounds, wantBounds)
	}
	for i := range bounds {
		if math.Abs(bounds[i]-wantBounds[i]) > 1e-12 || cum[i] != wantCum[i] {
			t.Fatalf("buckets %v %v, want %v %v", bounds, cum, wantBounds, wantCum)
		}
	}
}

func TestEstimateSumCountsBucketMiddles(t *testing.T) {
	// Bucket 0 [0,2) at 1, bucket 1 [2,4) at 3, bucket 2 [4,8) at 6, the
	// last [8,∞) at its lower end 8.
	got := EstimateSum([]uint64{2, 1, 1, 3}, 0.5)
	want := (2*1 + 1*3 + 1*6 + 3*8) * 0.5
	if got != want {
		t.Fatalf("estimate %g, want %g", got, want)
	}
	// Evenly spread observations: 4..7 in bucket 2, whose true sum is 22
	// and whose estimate is 4×6 = 24.
	if got := EstimateSum([]uint64{0, 0, 4, 0}, 1); got != 24 {
		t.Fatalf("estimate %g, want 24", got)
	}
}
