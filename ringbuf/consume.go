package ringbuf

import "runtime/debug"

// Handler handles one batch: the items of a run of consecutive published
// sequences, in sequence order. endOfBatch is true when nothing more was
// waiting when the run was cut, so a stage that accumulates work (one WAL
// write, one fsync) flushes it then. The slice is only valid during the
// call: it is the consumer's batch buffer, zeroed and reused afterwards. A
// non-nil error stops the consumer and closes the ring.
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
	switch r.cells[i].seq.Load() {
	case lo + 1: // published: hand over the run that starts here
	case -(lo + 1): // abandoned by its producer
		r.next++
		r.skipped.Store(r.skipped.Load() + 1)
		r.release()
		return true, nil
	default:
		return false, nil
	}
	// A run ends at batchMax or at the end of the slot array.
	limit := min(r.batchMax, r.size-i)
	n := int64(1)
	for n < limit && r.cells[i+n].seq.Load() == lo+n+1 {
		n++
	}
	end := n < limit || r.cells[(lo+n)&r.mask].seq.Load() != lo+n+1
	batch := r.batch[:n]
	var zero T
	for k := range batch {
		c := &r.cells[i+int64(k)]
		batch[k], c.val = c.val, zero // zeroed so the GC can free what it held
	}
	if err := r.handle(h, lo, batch, end); err != nil {
		return false, err
	}
	clear(batch)
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
	slot := &r.cells[seq&r.mask].seq
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
