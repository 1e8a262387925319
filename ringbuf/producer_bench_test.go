package ringbuf_test

import (
	"testing"

	disruptor "github.com/smartystreets-prototypes/go-disruptor"

	"github.com/raftpipe/raftpipe/ringbuf"
)

// BenchmarkProducerAlone is the bare cost of publishing one item with no
// consumer running, on a ring large enough never to fill: the floor under
// every MPSC row.
func BenchmarkProducerAlone(b *testing.B) {
	const capacity = 1 << 24
	b.Run("ringbuf", func(b *testing.B) {
		r, err := ringbuf.New[int64](ringbuf.Config{Capacity: capacity})
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			if i == capacity {
				b.StopTimer()
				r, _ = ringbuf.New[int64](ringbuf.Config{Capacity: capacity})
				i = 0
				b.StartTimer()
			}
			if err := r.TryPublish(int64(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("disruptor", func(b *testing.B) {
		slots := make([]int64, capacity)
		var d disruptor.Disruptor
		renew := func() {
			d = disruptor.New(disruptor.WithCapacity(capacity), disruptor.WithConsumerGroup(nopConsumer{}))
		}
		renew()
		i := 0
		for b.Loop() {
			if i == capacity {
				b.StopTimer()
				renew()
				i = 0
				b.StartTimer()
			}
			seq := d.Reserve(1)
			slots[seq&(capacity-1)] = int64(i)
			d.Commit(seq, seq)
			i++
		}
	})
}

type nopConsumer struct{}

func (nopConsumer) Consume(lower, upper int64) {}
