package ringbuf_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/lni/goutils/leaktest"
	"github.com/raftpipe/raftpipe/ringbuf"
)

// item packs its producer and that producer's running count.
func item(producer, i int) uint64 { return uint64(producer)<<32 | uint64(i) }

// orderChecker is a handler that fails unless every producer's items
// arrive exactly once and in the order they were published.
type orderChecker struct {
	t        *testing.T
	next     []uint64 // next count expected from each producer
	batchRun int      // PublishBatch size: a batch's items must be contiguous
	pending  int      // items still owed by the batch being received
	from     int
	items    int
	batches  int
	maxBatch int
}

func newOrderChecker(t *testing.T, producers, batchRun int) *orderChecker {
	return &orderChecker{t: t, next: make([]uint64, producers), batchRun: batchRun}
}

func (c *orderChecker) handle(batch []uint64, _ bool) error {
	c.batches++
	c.maxBatch = max(c.maxBatch, len(batch))
	for _, v := range batch {
		p, i := int(v>>32), v&0xffffffff
		if p >= len(c.next) || i != c.next[p] {
			return fmt.Errorf("item %d of producer %d arrived, want %d (lost, duplicated or reordered)", i, p, c.next[p])
		}
		if c.pending > 0 && p != c.from {
			return fmt.Errorf("producer %d's item %d interleaved into producer %d's batch", p, i, c.from)
		}
		if c.batchRun > 1 {
			if c.pending == 0 {
				c.pending, c.from = c.batchRun, p
			}
			c.pending--
		}
		c.next[p]++
		c.items++
	}
	return nil
}

func (c *orderChecker) checkAll(perProducer int) {
	c.t.Helper()
	for p, n := range c.next {
		if n != uint64(perProducer) {
			c.t.Errorf("producer %d: %d items arrived, want %d", p, n, perProducer)
		}
	}
}

// runProducers starts the consumer, runs producers to completion, closes
// the ring and waits for the consumer to drain.
func runProducers(t *testing.T, r *ringbuf.Ring[uint64], c *orderChecker, producers int, produce func(p int) error) {
	t.Helper()
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(c.handle) }()
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Go(func() {
			if err := produce(p); err != nil {
				errs <- fmt.Errorf("producer %d: %w", p, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r.Close()
	if err := <-runErr; err != ringbuf.ErrClosed {
		t.Fatalf("Run returned %v, want ErrClosed", err)
	}
}

// The acceptance stress: 8 producers × 1M items through the default ring,
// under the race detector in CI.
func TestStressEightProducersMillionItems(t *testing.T) {
	defer leaktest.AfterTest(t)()
	const producers, perProducer = 8, 1_000_000
	r, err := ringbuf.New[uint64](ringbuf.Config{Capacity: 1024})
	if err != nil {
		t.Fatal(err)
	}
	c := newOrderChecker(t, producers, 1)
	ctx := context.Background()
	runProducers(t, r, c, producers, func(p int) error {
		for i := range perProducer {
			if err := r.Publish(ctx, item(p, i)); err != nil {
				return err
			}
		}
		return nil
	})
	c.checkAll(perProducer)
	if st := r.Stats(); st.Items != producers*perProducer || st.Batches != int64(c.batches) {
		t.Fatalf("stats %+v, handler saw %d items in %d batches", st, c.items, c.batches)
	}
	t.Logf("%d items in %d batches (mean %.1f, max %d)", c.items, c.batches, float64(c.items)/float64(c.batches), c.maxBatch)
}

// Every wait strategy, tiny rings that wrap constantly, and batch claims
// mixed with single ones.
func TestStressStrategiesAndCapacities(t *testing.T) {
	defer leaktest.AfterTest(t)()
	const producers, perProducer = 4, 10_000
	for _, wait := range allWaitStrategies {
		for _, capacity := range []int{2, 4, 64} {
			for _, batchRun := range []int{1, 2} {
				name := fmt.Sprintf("%v/cap=%d/batch=%d", wait, capacity, batchRun)
				t.Run(name, func(t *testing.T) {
					r, err := ringbuf.New[uint64](ringbuf.Config{Capacity: capacity, Wait: wait})
					if err != nil {
						t.Fatal(err)
					}
					c := newOrderChecker(t, producers, batchRun)
					ctx := context.Background()
					runProducers(t, r, c, producers, func(p int) error {
						buf := make([]uint64, batchRun)
						for i := 0; i < perProducer; i += batchRun {
							for j := range buf {
								buf[j] = item(p, i+j)
							}
							if err := r.PublishBatch(ctx, buf); err != nil {
								return err
							}
						}
						return nil
					})
					c.checkAll(perProducer)
				})
			}
		}
	}
}
