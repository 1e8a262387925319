package ringbuf_test

import (
	"context"
	"runtime"
	"testing"

	disruptor "github.com/smartystreets-prototypes/go-disruptor"

	"github.com/raftpipe/raftpipe/ringbuf"
)

// Every system gets the same capacity, the same items (int64s that the
// consumer sums, so it reads every slot) and the same harness: producers
// persist across rounds, each b.Loop iteration is one round of roundItems
// items spread over the producers, and ns/item is the figure to compare.
const (
	benchCapacity = 1 << 12
	roundItems    = 1 << 16
)

// system is one queue under test. start launches the consumer, which
// calls done after every roundItems items and reports its batch count at
// stop; publish is one producer's loop for a round.
type system struct {
	start   func(done func())
	publish func(producer, n int)
	stop    func() (batches int64)
}

func BenchmarkMPSC(b *testing.B) {
	b.Run("ringbuf-1p", func(b *testing.B) { runMPSC(b, newRingSystem(b), 1) })
	b.Run("ringbuf-4p", func(b *testing.B) { runMPSC(b, newRingSystem(b), 4) })
	b.Run("chan-1p", func(b *testing.B) { runMPSC(b, newChanSystem(), 1) })
	b.Run("chan-4p", func(b *testing.B) { runMPSC(b, newChanSystem(), 4) })
	// go-disruptor's writer is single-producer, so it has no 4p row.
	b.Run("disruptor-1p", func(b *testing.B) { runMPSC(b, newDisruptorSystem(nil), 1) })
	// Its default waits sleep (50µs when idle); with yielding waits instead
	// it is the strongest single-producer baseline.
	b.Run("disruptor-1p-yield", func(b *testing.B) { runMPSC(b, newDisruptorSystem(yieldWait{}), 1) })
}

// yieldWait is a go-disruptor wait strategy that never sleeps.
type yieldWait struct{}

func (yieldWait) Gate(int64) { runtime.Gosched() }
func (yieldWait) Idle(int64) { runtime.Gosched() }

func runMPSC(b *testing.B, s system, producers int) {
	roundDone := make(chan struct{}, 1)
	s.start(func() { roundDone <- struct{}{} })
	starts := make([]chan struct{}, producers)
	for p := range starts {
		starts[p] = make(chan struct{}, 1)
		go func() {
			for range starts[p] {
				s.publish(p, roundItems/producers)
			}
		}()
	}
	rounds := 0
	for b.Loop() {
		for _, c := range starts {
			c <- struct{}{}
		}
		<-roundDone
		rounds++
	}
	for _, c := range starts {
		close(c)
	}
	batches := s.stop()
	items := float64(rounds * roundItems)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/items, "ns/item")
	b.ReportMetric(items/float64(max(batches, 1)), "items/batch")
}

// roundCounter calls done each time another roundItems items arrive.
type roundCounter struct {
	count, sum int64
	done       func()
}

func (c *roundCounter) add(n int64) {
	before := c.count / roundItems
	c.count += n
	if c.count/roundItems != before {
		c.done()
	}
}

func newRingSystem(b *testing.B) system {
	r, err := ringbuf.New[int64](ringbuf.Config{Capacity: benchCapacity})
	if err != nil {
		b.Fatal(err)
	}
	return ringSystemOn(r)
}

func ringSystemOn(r *ringbuf.Ring[int64]) system {
	var c roundCounter
	finished := make(chan struct{})
	ctx := context.Background()
	return system{
		start: func(done func()) {
			c.done = done
			go func() {
				defer close(finished)
				r.Run(func(batch []int64, _ bool) error {
					for _, v := range batch {
						c.sum += v
					}
					c.add(int64(len(batch)))
					return nil
				})
			}()
		},
		publish: func(_, n int) {
			for i := range n {
				if err := r.Publish(ctx, int64(i)); err != nil {
					panic(err)
				}
			}
		},
		stop: func() int64 {
			r.Close()
			<-finished
			return int64(r.Stats().Batches)
		},
	}
}

func newChanSystem() system {
	ch := make(chan int64, benchCapacity)
	var c roundCounter
	finished := make(chan struct{})
	return system{
		start: func(done func()) {
			c.done = done
			go func() {
				defer close(finished)
				for v := range ch {
					c.sum += v
					c.add(1)
				}
			}()
		},
		publish: func(_, n int) {
			for i := range n {
				ch <- int64(i)
			}
		},
		stop: func() int64 {
			close(ch)
			<-finished
			return c.count // one receive per item
		},
	}
}

// disruptorConsumer sums the slots go-disruptor hands it by sequence range.
type disruptorConsumer struct {
	slots   *[benchCapacity]int64
	c       *roundCounter
	batches *int64
}

func (d disruptorConsumer) Consume(lower, upper int64) {
	for seq := lower; seq <= upper; seq++ {
		d.c.sum += d.slots[seq&(benchCapacity-1)]
	}
	*d.batches++
	d.c.add(upper - lower + 1)
}

func newDisruptorSystem(wait disruptor.WaitStrategy) system {
	var slots [benchCapacity]int64
	var c roundCounter
	var batches int64
	options := []disruptor.Option{
		disruptor.WithCapacity(benchCapacity),
		disruptor.WithConsumerGroup(disruptorConsumer{slots: &slots, c: &c, batches: &batches}),
	}
	if wait != nil {
		options = append(options, disruptor.WithWaitStrategy(wait))
	}
	d := disruptor.New(options...)
	finished := make(chan struct{})
	return system{
		start: func(done func()) {
			c.done = done
			go func() {
				defer close(finished)
				d.Read()
			}()
		},
		publish: func(_, n int) {
			for i := range n {
				seq := d.Reserve(1)
				slots[seq&(benchCapacity-1)] = int64(i)
				d.Commit(seq, seq)
			}
		},
		stop: func() int64 {
			d.Close()
			<-finished
			return batches
		},
	}
}
