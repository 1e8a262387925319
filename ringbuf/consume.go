package ringbuf

import "runtime/debug"

// Handler handles one batch: the items of a run of consecutive published
// sequences, in sequence order. endOfBatch is true when nothing more was
// waiting when the run was cut, so a stage that accumulates work (one WAL
// write, one fsync) flushes it then. The slice is only valid during the
// call: its slots are zeroed and reused afterwards. A non-nil error stops
// the consumer and closes the ring.
type Handler[T any] func(batch []T, endOfBatch bool) error

// Run is the consumer: it hands every published item to h, in sequence
// order, until the ring is closed and drained, then returns ErrClosed. It
// returns early with h's error, or with a *PanicError if h panics; the ring
// is closed then, and items not yet handled are dropped. Run may be called
// once per ring.
func (r *Ring[T]) Run(h Handler[T]) error {
	if r.running.Swap(true) {
		return ErrConsumerRunning
	}
	err := r.drain(h)
	r.Close()
	return err
}

func (r *Ring[T]) drain(h Handler[T]) error {
	for {
		progressed, err := r.step(h)
		if err != nil {
			return err
		}
		if progressed {
			continue
		}
		if r.next >= r.closeAt.Load() {
			return ErrClosed
		}
		r.awaitPublished(r.next)
	}
}

// step hands the longest run of published items at the consumer's next
// sequence to h, or passes over one skipped sequence. It never waits, and
// reports false when the next sequence is not ready.
func (r *Ring[T]) step(h Handler[T]) (bool, error) {
	lo := r.next
	i := lo & r.mask
	switch r.avail[i].Load() {
	case lo + 1:
	case -(lo + 1):
		r.next++
		r.skipped.Store(r.skipped.Load() + 1)
		r.release()
		return true, nil
	default:
		return false, nil
	}
	// A run ends at batchMax or at the end of the slot array, so that the
	// handler gets one contiguous slice.
	limit := min(r.batchMax, r.size-i)
	n := int64(1)
	for n < limit && r.avail[i+n].Load() == lo+n+1 {
		n++
	}
	end := n < limit || r.avail[(lo+n)&r.mask].Load() != lo+n+1
	batch := r.slots[i : i+n]
	if err := r.handle(h, lo, batch, end); err != nil {
		return false, err
	}
	clear(batch) // drop references so the GC can free what they held
	r.next += n
	r.batches.Store(r.batches.Load() + 1)
	r.release()
	r.moderate(n)
	return true, nil
}

// handle calls h, turning a panic into a *PanicError.
func (r *Ring[T]) handle(h Handler[T], lo int64, batch []T, end bool) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Sequence: lo, Value: v, Stack: debug.Stack()}
		}
	}()
	return h(batch, end)
}

// release frees the slots below the consumer's next sequence and wakes
// whoever waits for them.
func (r *Ring[T]) release() {
	r.consumed.Store(r.next)
	if r.spaceWaiters.Load() != 0 {
		r.wakeProducers()
	}
	if r.hasAbandoned.Load() {
		r.abandonMu.Lock()
		r.skipFreedLocked()
		r.abandonMu.Unlock()
	}
}

// awaitPublished waits until sequence seq is published or skipped, or the
// ring is closed at or before it, and notes how the wait went for moderate.
func (r *Ring[T]) awaitPublished(seq int64) {
	slot := &r.avail[seq&r.mask]
	ready := func() bool {
		s := slot.Load()
		return s == seq+1 || s == -(seq+1) || seq >= r.closeAt.Load()
	}
	i := 0
	for ; !ready(); i++ {
		if !r.wait.pause(i, r.pollIters, spinBudgetIters) {
			continue
		}
		r.parked.Store(1)
		// Check again after announcing the park: a producer publishes
		// before it reads parked.
		if ready() {
			r.parked.Store(0)
			break
		}
		<-r.wake
		r.lastWait = waitParked
		return
	}
	r.lastWait = waitSpun
	if i > chasePolls {
		r.lastWait = waitSpunLong
	}
}

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
