package ringbuf

// How the consumer's last wait ended.
const (
	waitNone     = iota // no wait before this batch
	waitSpun            // found it within chasePolls polls: chasing a producer
	waitSpunLong        // found it after longer spinning: light load
	waitParked          // parked and was woken
)

// Moderation of SpinThenPark's consumer, as a network card moderates its
// interrupts. A consumer that polls right behind a producer reads each
// cache line the producer is still filling, and each read costs the
// producer an invalidation on its next write (about 150ns between the
// cores of a virtual machine). Batches then stay a few items long, the
// producer slows down, and the slow producer keeps batches short: measured
// here, 60-160ns per item against 30-40ns. Most of such a chase is batches
// found without waiting at all, the few items that arrived while the last
// batch was handled. So:
//   - a short batch found at once or within chasePolls polls doubles
//     pollIters, up to maxPollIters (about 3µs), and the consumer pauses
//     that long before it looks again; a pause beyond spinBudgetIters
//     leaves no time to spin, so waits then park at once, as Blocking
//     does, and the wake-up latency lets batches grow to hundreds;
//   - a batch found after longer spinning (light load) or a batch of a few
//     items after a park (the load dropped) resets pollIters to zero, so a
//     quiet ring keeps its low hand-off latency;
//   - a long batch halves pollIters.
const (
	chasePolls    = 2
	maxPollIters  = 1 << 14
	shortBatchMax = 64
	longBatchMin  = 512
	// lightBatchMax is what a wake-up finds when the load has dropped: a
	// wake-up takes microseconds, so under load it finds far more.
	lightBatchMax = 4
)

// moderate adjusts the consumer's waiting after a batch of n items.
func (r *Ring[T]) moderate(n int64) {
	if r.wait != SpinThenPark {
		return
	}
	last := r.lastWait
	r.lastWait = waitNone
	switch {
	case n >= longBatchMin:
		r.pollIters /= 2
	case last == waitSpunLong || last == waitParked && n <= lightBatchMax:
		r.pollIters = 0
	case n < shortBatchMax:
		r.pollIters = min(max(2*r.pollIters, minPollIters), maxPollIters)
	}
	if n < shortBatchMax {
		spinFor(r.pollIters) // zero unless chasing
	}
}
