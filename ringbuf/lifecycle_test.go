package ringbuf_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lni/goutils/leaktest"
	"github.com/raftpipe/raftpipe/ringbuf"
)

// allWaitStrategies lists every strategy, the default first.
var allWaitStrategies = []ringbuf.WaitStrategy{ringbuf.SpinThenPark, ringbuf.BusySpin, ringbuf.Yield, ringbuf.Blocking}

func newRing(t testing.TB, cfg ringbuf.Config) *ringbuf.Ring[uint64] {
	t.Helper()
	r, err := ringbuf.New[uint64](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// collector records what the consumer was handed.
type collector struct {
	mu      sync.Mutex
	items   []uint64
	batches []int
}

func (c *collector) handle(b []uint64, _ bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, b...)
	c.batches = append(c.batches, len(b))
	return nil
}

func (c *collector) got() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.items)
}

func fill(t *testing.T, r *ringbuf.Ring[uint64], from uint64, n int) {
	t.Helper()
	for i := range n {
		if err := r.TryPublish(from + uint64(i)); err != nil {
			t.Fatalf("TryPublish %d: %v", from+uint64(i), err)
		}
	}
}

func TestConfigValidateNamesTheBound(t *testing.T) {
	for _, tc := range []struct {
		cfg  ringbuf.Config
		want string
	}{
		{ringbuf.Config{Capacity: 0}, "capacity 0 out of range"},
		{ringbuf.Config{Capacity: 6}, "capacity 6 is not a power of two"},
		{ringbuf.Config{Capacity: 1 << 31}, "capacity 2147483648 out of range"},
		{ringbuf.Config{Capacity: 8, BatchMax: -1}, "batch_max -1 is negative"},
		{ringbuf.Config{Capacity: 8, Wait: 9}, "unknown wait strategy 9"},
	} {
		_, err := ringbuf.New[int](tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestWaitStrategyText(t *testing.T) {
	for _, w := range allWaitStrategies {
		text, err := w.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back ringbuf.WaitStrategy
		if err := back.UnmarshalText(text); err != nil || back != w {
			t.Fatalf("%v -> %q -> %v, %v", w, text, back, err)
		}
	}
	var w ringbuf.WaitStrategy
	if err := w.UnmarshalText([]byte("spin")); err == nil || !strings.Contains(err.Error(), `unknown wait strategy "spin"`) {
		t.Fatalf("UnmarshalText(spin) = %v", err)
	}
}

// A ring of capacity 1, 2 or 4 refuses the item after it is full, and goes
// on working lap after lap.
func TestWrapAroundSmallCapacity(t *testing.T) {
	for _, capacity := range []int{1, 2, 4} {
		synctest.Test(t, func(t *testing.T) {
			r := newRing(t, ringbuf.Config{Capacity: capacity})
			var c collector
			gate := make(chan struct{})
			go r.Run(func(b []uint64, end bool) error { <-gate; return c.handle(b, end) })
			drain := func() {
				for synctest.Wait(); r.Len() != 0; synctest.Wait() {
					gate <- struct{}{} // the consumer is held in the handler
				}
			}
			next := uint64(0)
			for lap := range 100 {
				fill(t, r, next, capacity)
				next += uint64(capacity)
				if err := r.TryPublish(next); !errors.Is(err, ringbuf.ErrFull) {
					t.Fatalf("cap %d lap %d: TryPublish on a full ring = %v, want ErrFull", capacity, lap, err)
				}
				drain()
				if err := r.Publish(context.Background(), next); err != nil {
					t.Fatal(err)
				}
				next++
				drain()
			}
			r.Close()
			got := c.got()
			if len(got) != int(next) {
				t.Fatalf("cap %d: %d items arrived, want %d", capacity, len(got), next)
			}
			for i, v := range got {
				if v != uint64(i) {
					t.Fatalf("cap %d: item %d is %d", capacity, i, v)
				}
			}
		})
	}
}

// While the consumer is busy the producers fill the ring; the consumer then
// takes everything waiting as one batch.
func TestBatchesGrowUnderSaturation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRing(t, ringbuf.Config{Capacity: 64})
		release := make(chan struct{})
		var sizes []int
		var ends []bool
		done := make(chan error)
		go func() {
			done <- r.Run(func(b []uint64, end bool) error {
				sizes, ends = append(sizes, len(b)), append(ends, end)
				if len(sizes) == 1 {
					<-release
				}
				return nil
			})
		}()
		fill(t, r, 0, 1)
		synctest.Wait() // the consumer holds item 0
		fill(t, r, 1, 63)
		close(release)
		synctest.Wait()
		r.Close()
		if err := <-done; err != ringbuf.ErrClosed {
			t.Fatal(err)
		}
		if !slices.Equal(sizes, []int{1, 63}) || !slices.Equal(ends, []bool{true, true}) {
			t.Fatalf("batches %v ends %v, want [1 63] [true true]", sizes, ends)
		}
		if st := r.Stats(); st.Batches != 2 || st.Items != 64 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// A batch is cut at BatchMax and at the end of the slot array, and only the
// last piece of what was waiting says end of batch.
func TestBatchCutAtBatchMaxAndWrap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRing(t, ringbuf.Config{Capacity: 8, BatchMax: 3})
		var c collector
		var ends []bool
		step := make(chan struct{})
		fill(t, r, 0, 6)
		go r.Run(func(b []uint64, end bool) error {
			<-step // the test publishes only while the consumer is held here
			ends = append(ends, end)
			return c.handle(b, end)
		})
		step <- struct{}{} // [0 1 2], 3..5 waiting
		synctest.Wait()    // the consumer is held in its second call, [3 4 5]
		fill(t, r, 6, 5)   // sequences 6..10 wrap after slot 7
		for range 3 {
			step <- struct{}{}
		}
		synctest.Wait()
		r.Close()
		synctest.Wait()
		if !slices.Equal(c.batches, []int{3, 3, 2, 3}) || !slices.Equal(ends, []bool{false, true, false, true}) {
			t.Fatalf("batches %v ends %v, want [3 3 2 3] [false true false true]", c.batches, ends)
		}
	})
}

func TestCloseDrainsWhatWasPublished(t *testing.T) {
	defer leaktest.AfterTest(t)()
	r := newRing(t, ringbuf.Config{Capacity: 16})
	fill(t, r, 0, 10)
	r.Close()
	r.Close() // idempotent
	if err := r.Publish(context.Background(), 99); err != ringbuf.ErrClosed {
		t.Fatalf("Publish after Close = %v", err)
	}
	if err := r.TryPublish(99); err != ringbuf.ErrClosed {
		t.Fatalf("TryPublish after Close = %v", err)
	}
	if err := r.PublishBatch(context.Background(), []uint64{1, 2}); err != ringbuf.ErrClosed {
		t.Fatalf("PublishBatch after Close = %v", err)
	}
	var c collector
	if err := r.Run(c.handle); err != ringbuf.ErrClosed {
		t.Fatalf("Run = %v", err)
	}
	if got := c.got(); !slices.Equal(got, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("drained %v", got)
	}
	if err := r.Run(c.handle); err != ringbuf.ErrConsumerRunning {
		t.Fatalf("second Run = %v", err)
	}
}

// Producers blocked on a full ring return ErrClosed at Close; the consumer
// drains exactly what was published before.
func TestCloseWhileProducersBlocked(t *testing.T) {
	for _, wait := range []ringbuf.WaitStrategy{ringbuf.SpinThenPark, ringbuf.Blocking} {
		t.Run(wait.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRing(t, ringbuf.Config{Capacity: 4, Wait: wait})
				fill(t, r, 0, 4)
				errs := make(chan error, 4)
				for p := range 3 {
					go func() { errs <- r.Publish(context.Background(), uint64(100+p)) }()
				}
				go func() { errs <- r.PublishBatch(context.Background(), []uint64{200, 201}) }()
				synctest.Wait() // all four producers parked
				r.Close()
				for range 4 {
					if err := <-errs; err != ringbuf.ErrClosed {
						t.Fatalf("blocked producer got %v, want ErrClosed", err)
					}
				}
				var c collector
				if err := r.Run(c.handle); err != ringbuf.ErrClosed {
					t.Fatal(err)
				}
				if got := c.got(); !slices.Equal(got, []uint64{0, 1, 2, 3}) {
					t.Fatalf("drained %v, want [0 1 2 3]", got)
				}
			})
		})
	}
}

// A producer whose context ends while the ring is full gives up; its
// sequence is skipped and everything published later still arrives.
func TestContextCancelWhileBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRing(t, ringbuf.Config{Capacity: 2})
		fill(t, r, 0, 2)
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 2)
		go func() { errs <- r.Publish(ctx, 50) }()
		deadline, stop := context.WithTimeout(context.Background(), time.Second)
		defer stop()
		go func() { errs <- r.PublishBatch(deadline, []uint64{60, 61}) }()
		synctest.Wait()
		cancel()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Publish = %v", err)
		}
		time.Sleep(2 * time.Second)
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("timed-out PublishBatch = %v", err)
		}
		var c collector
		done := make(chan error)
		go func() { done <- r.Run(c.handle) }()
		for _, v := range []uint64{2, 3} {
			if err := r.Publish(context.Background(), v); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		r.Close()
		if err := <-done; err != ringbuf.ErrClosed {
			t.Fatal(err)
		}
		if got := c.got(); !slices.Equal(got, []uint64{0, 1, 2, 3}) {
			t.Fatalf("got %v, want [0 1 2 3]: abandoned items must be skipped, later ones kept", got)
		}
	})
}

// A parked consumer is woken by every publish: a lost wake-up would leave
// the bubble deadlocked and fail the test.
func TestParkedConsumerIsAlwaysWoken(t *testing.T) {
	for _, wait := range []ringbuf.WaitStrategy{ringbuf.SpinThenPark, ringbuf.Blocking} {
		t.Run(wait.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRing(t, ringbuf.Config{Capacity: 8, Wait: wait})
				got := make(chan uint64, 1)
				go r.Run(func(b []uint64, _ bool) error {
					for _, v := range b {
						got <- v
					}
					return nil
				})
				for i := range uint64(500) {
					synctest.Wait() // the consumer is parked
					time.Sleep(time.Millisecond)
					if err := r.Publish(context.Background(), i); err != nil {
						t.Fatal(err)
					}
					if v := <-got; v != i {
						t.Fatalf("got %d, want %d", v, i)
					}
				}
				r.Close()
			})
		})
	}
}

// A producer parked on a full ring is woken when the consumer frees a slot.
func TestParkedProducerIsWoken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRing(t, ringbuf.Config{Capacity: 1, Wait: ringbuf.Blocking})
		step := make(chan struct{})
		var c collector
		go r.Run(func(b []uint64, end bool) error { <-step; return c.handle(b, end) })
		ctx := context.Background()
		done := make(chan error)
		go func() {
			for i := range uint64(100) {
				if err := r.Publish(ctx, i); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for range 100 {
			synctest.Wait() // producer parked on the full ring, consumer in handler
			step <- struct{}{}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.Close()
		if n := len(c.got()); n != 100 {
			t.Fatalf("%d items arrived, want 100", n)
		}
	})
}

func TestHandlerPanicIsAnError(t *testing.T) {
	defer leaktest.AfterTest(t)()
	r := newRing(t, ringbuf.Config{Capacity: 4, Wait: ringbuf.Blocking})
	fill(t, r, 0, 4)
	blocked := make(chan error)
	go func() { blocked <- r.Publish(context.Background(), 4) }()
	err := r.Run(func(b []uint64, _ bool) error {
		if b[0] == 0 {
			panic("boom")
		}
		return nil
	})
	var pe *ringbuf.PanicError
	if !errors.Is(err, ringbuf.ErrHandlerPanic) || !errors.As(err, &pe) || pe.Value != "boom" || pe.Sequence != 0 || len(pe.Stack) == 0 {
		t.Fatalf("Run = %v, want a PanicError for boom at sequence 0", err)
	}
	if !r.Closed() {
		t.Fatal("ring still open after the consumer failed")
	}
	if err := <-blocked; err != ringbuf.ErrClosed {
		t.Fatalf("producer blocked when the consumer failed got %v", err)
	}
}

func TestHandlerErrorStopsTheConsumer(t *testing.T) {
	r := newRing(t, ringbuf.Config{Capacity: 4})
	fill(t, r, 0, 1)
	boom := errors.New("disk on fire")
	if err := r.Run(func([]uint64, bool) error { return boom }); err != boom {
		t.Fatalf("Run = %v", err)
	}
	if err := r.TryPublish(1); err != ringbuf.ErrClosed {
		t.Fatalf("TryPublish after the consumer failed = %v", err)
	}
}

func TestBatchTooLarge(t *testing.T) {
	r := newRing(t, ringbuf.Config{Capacity: 4})
	big := make([]uint64, 5)
	if err := r.PublishBatch(context.Background(), big); !errors.Is(err, ringbuf.ErrBatchTooLarge) || !strings.Contains(err.Error(), "5 items, capacity 4") {
		t.Fatalf("PublishBatch = %v", err)
	}
	if err := r.TryPublishBatch(big); !errors.Is(err, ringbuf.ErrBatchTooLarge) {
		t.Fatalf("TryPublishBatch = %v", err)
	}
	if r.Len() != 0 {
		t.Fatalf("a refused batch claimed %d slots", r.Len())
	}
}
