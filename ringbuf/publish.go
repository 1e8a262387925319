package ringbuf

import (
	"context"
	"fmt"
)

// Publish copies v into the ring, waiting while the ring is full. ctx bounds
// only that wait: on a ring with room Publish succeeds whatever ctx says.
// It returns ErrClosed after Close, or ctx's error; in both cases v will
// not reach the handler.
func (r *Ring[T]) Publish(ctx context.Context, v T) error {
	end := r.cursor.Add(1)
	if end&closedBit != 0 {
		return ErrClosed
	}
	seq := end - 1
	if !r.free(seq) {
		if err := r.awaitSpace(ctx, seq); err != nil {
			r.abandon(seq, end)
			return err
		}
	}
	r.cells[seq&r.mask].val = v
	r.cells[seq&r.mask].seq.Store(end)
	r.signalConsumer()
	return nil
}

// PublishBatch claims len(vs) consecutive sequences with one atomic add
// and copies vs into them, waiting while the ring lacks room for all of
// them. Either every item reaches the handler, in order and with no other
// producer's item between them, or none does.
func (r *Ring[T]) PublishBatch(ctx context.Context, vs []T) error {
	n := int64(len(vs))
	if n == 0 {
		return nil
	}
	if n > r.size {
		return fmt.Errorf("%w: %d items, capacity %d", ErrBatchTooLarge, n, r.size)
	}
	end := r.cursor.Add(n)
	if end&closedBit != 0 {
		return ErrClosed
	}
	lo, last := end-n, end-1
	// The consumer frees slots in sequence order, so once the last slot is
	// free every earlier one of the claim is too.
	if !r.free(last) {
		if err := r.awaitSpace(ctx, last); err != nil {
			r.abandon(lo, end)
			return err
		}
	}
	r.fill(lo, vs)
	return nil
}

// TryPublish is Publish without the wait: ErrFull when no slot is free.
func (r *Ring[T]) TryPublish(v T) error {
	seq, err := r.tryClaim(1)
	if err != nil {
		return err
	}
	r.cells[seq&r.mask].val = v
	r.cells[seq&r.mask].seq.Store(seq + 1)
	r.signalConsumer()
	return nil
}

// TryPublishBatch is PublishBatch without the wait: ErrFull when the ring
// lacks room for all of vs, and then none of vs is published.
func (r *Ring[T]) TryPublishBatch(vs []T) error {
	n := int64(len(vs))
	if n == 0 {
		return nil
	}
	if n > r.size {
		return fmt.Errorf("%w: %d items, capacity %d", ErrBatchTooLarge, n, r.size)
	}
	lo, err := r.tryClaim(n)
	if err != nil {
		return err
	}
	r.fill(lo, vs)
	return nil
}

// tryClaim claims n sequences only if their slots are free now. A failed
// claim must leave no trace, so this is the one compare-and-swap claim.
func (r *Ring[T]) tryClaim(n int64) (int64, error) {
	for {
		cur := r.cursor.Load()
		if cur&closedBit != 0 {
			return 0, ErrClosed
		}
		if !r.free(cur + n - 1) {
			return 0, ErrFull
		}
		if r.cursor.CompareAndSwap(cur, cur+n) {
			return cur, nil
		}
	}
}

// free reports whether the slot of sequence seq is free for it: the
// consumer has released seq's previous lap.
func (r *Ring[T]) free(seq int64) bool {
	lap := seq - r.size
	g := r.gate.Load()
	if lap < g {
		return true
	}
	c := r.consumed.Load()
	if c > g {
		r.gate.Store(c) // only when it moves: the line is read by every producer
	}
	return lap < c
}

// fill copies vs into the claimed slots from lo, then publishes them in
// order.
func (r *Ring[T]) fill(lo int64, vs []T) {
	for k, v := range vs {
		r.cells[(lo+int64(k))&r.mask].val = v
	}
	for seq := lo; seq < lo+int64(len(vs)); seq++ {
		r.cells[seq&r.mask].seq.Store(seq + 1)
	}
	r.signalConsumer()
}

// signalConsumer wakes the consumer if it parked. The publish before it is
// a sequentially consistent store, and the consumer sets parked before it
// checks the slot once more, so one of the two always sees the other: no
// wake-up is lost.
func (r *Ring[T]) signalConsumer() {
	if r.parked.Load() != 0 && r.parked.Swap(0) != 0 {
		r.givePermit()
	}
}

// givePermit lets the consumer's next (or current) park return at once.
func (r *Ring[T]) givePermit() {
	select {
	case r.wake <- struct{}{}:
	default: // a permit is already waiting
	}
}

// A producer on a full ring polls every producerPollIters loop iterations
// for producerSpinIters in all (about a microsecond), then parks. It spins
// only briefly: the ring is full because the consumer is behind, and with
// more goroutines than processors a spinning producer holds the processor
// the consumer needs (measured: a quarter of all CPU time went to such
// spinning with 4 producers on 2 processors).
const (
	producerPollIters = 256
	producerSpinIters = 4096
)

// awaitSpace waits until the slot of sequence last is free.
func (r *Ring[T]) awaitSpace(ctx context.Context, last int64) error {
	done := ctx.Done()
	wait := r.wait.forProducers()
	for i := 0; ; i++ {
		if r.free(last) {
			return nil
		}
		if r.closed.Load() {
			return ErrClosed
		}
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		if !wait.pause(i, producerPollIters, producerSpinIters) {
			continue
		}
		r.spaceMu.Lock()
		ch := r.spaceCh
		r.spaceWaiters.Add(1)
		r.spaceMu.Unlock()
		// Check again after announcing ourselves: the consumer stores
		// consumed before it reads spaceWaiters.
		if r.free(last) || r.closed.Load() {
			continue
		}
		select {
		case <-ch:
		case <-done:
			return ctx.Err()
		}
	}
}

// wakeProducers wakes every producer parked on a full ring.
func (r *Ring[T]) wakeProducers() {
	r.spaceMu.Lock()
	close(r.spaceCh)
	r.spaceCh = make(chan struct{})
	r.spaceWaiters.Store(0)
	r.spaceMu.Unlock()
}

// abandon gives up the claimed sequences [lo, hi): they will be marked
// skipped as soon as their slots are free, by whichever of this producer
// and the consumer sees them free first.
func (r *Ring[T]) abandon(lo, hi int64) {
	r.abandonMu.Lock()
	r.abandoned = append(r.abandoned, span{lo, hi})
	r.hasAbandoned.Store(true)
	// The flag is stored before consumed is read here, and the consumer
	// stores consumed before it reads the flag: one of us sees the other.
	r.skipFreedLocked()
	r.abandonMu.Unlock()
	r.signalConsumer()
}

// skipFreedLocked marks skipped every abandoned span whose slots are free.
func (r *Ring[T]) skipFreedLocked() {
	consumed := r.consumed.Load()
	kept := r.abandoned[:0]
	for _, s := range r.abandoned {
		if s.hi-1-r.size >= consumed {
			kept = append(kept, s)
			continue
		}
		for seq := s.lo; seq < s.hi; seq++ {
			r.cells[seq&r.mask].seq.Store(-(seq + 1))
		}
	}
	clear(r.abandoned[len(kept):])
	r.abandoned = kept
	r.hasAbandoned.Store(len(kept) > 0)
}
