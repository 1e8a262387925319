package stages

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats are one stage's counters since it started, for the metrics layer
// to export: how many batches it handled and how large and long they were
// (as log2 histograms), and how many items wait in its ring now.
type Stats struct {
	Batches uint64
	Items   uint64
	Busy    time.Duration // time spent handling batches
	// BatchSizes[i] counts batches of [2^i, 2^(i+1)) items.
	BatchSizes [HistogramBuckets]uint64
	// BatchMicros[i] counts batches that took [2^i, 2^(i+1)) µs to handle
	// (bucket 0 also holds those under 1 µs).
	BatchMicros [HistogramBuckets]uint64
	// QueueDepth is how many items wait in the stage's ring now, of
	// QueueCapacity.
	QueueDepth, QueueCapacity int
}

// HistogramBuckets is the number of log2 buckets; the last holds
// everything larger.
const HistogramBuckets = 24

type stageCounters struct {
	batches, items, busyNanos atomic.Uint64
	sizes, micros             [HistogramBuckets]atomic.Uint64
}

// record notes one handled batch of n items that took d.
func (c *stageCounters) record(n int, d time.Duration) {
	c.batches.Add(1)
	c.items.Add(uint64(n))
	c.busyNanos.Add(uint64(d))
	c.sizes[log2Bucket(uint64(n))].Add(1)
	c.micros[log2Bucket(uint64(d/time.Microsecond))].Add(1)
}

func log2Bucket(v uint64) int {
	if v == 0 {
		return 0
	}
	return min(bits.Len64(v)-1, HistogramBuckets-1)
}

func (c *stageCounters) snapshot(depth, capacity int) Stats {
	s := Stats{
		Batches:       c.batches.Load(),
		Items:         c.items.Load(),
		Busy:          time.Duration(c.busyNanos.Load()),
		QueueDepth:    depth,
		QueueCapacity: capacity,
	}
	for i := range s.BatchSizes {
		s.BatchSizes[i] = c.sizes[i].Load()
		s.BatchMicros[i] = c.micros[i].Load()
	}
	return s
}

// DurationHistogram is a log2 histogram of the durations of rare, long
// operations (taking or installing a snapshot), in milliseconds: the
// stages' microsecond buckets would put everything past 8 s in the last.
type DurationHistogram struct {
	// Millis[i] counts operations that took [2^i, 2^(i+1)) ms (bucket 0
	// also those under 1 ms; the last everything longer).
	Millis [HistogramBuckets]uint64
	Total  time.Duration // their exact sum
}

type durationCounter struct {
	millis [HistogramBuckets]atomic.Uint64
	nanos  atomic.Uint64
}

func (c *durationCounter) record(d time.Duration) {
	c.nanos.Add(uint64(d))
	c.millis[log2Bucket(uint64(d/time.Millisecond))].Add(1)
}

func (c *durationCounter) load() DurationHistogram {
	h := DurationHistogram{Total: time.Duration(c.nanos.Load())}
	for i := range h.Millis {
		h.Millis[i] = c.millis[i].Load()
	}
	return h
}
