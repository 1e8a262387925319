package ringbuf_test

import (
	"context"
	"testing"

	"github.com/raftpipe/raftpipe/ringbuf"
)

// BenchmarkMPSCStrategies is BenchmarkMPSC's ringbuf rows under every wait
// strategy.
func BenchmarkMPSCStrategies(b *testing.B) {
	for _, p := range []int{1, 4} {
		for _, w := range allWaitStrategies {
			b.Run(w.String()+"-"+string(rune('0'+p))+"p", func(b *testing.B) {
				r, err := ringbuf.New[int64](ringbuf.Config{Capacity: benchCapacity, Wait: w})
				if err != nil {
					b.Fatal(err)
				}
				runMPSC(b, ringSystemOn(r), p)
			})
		}
	}
}

// BenchmarkPingPong measures hand-off latency at light load: one item at a
// time goes through ring a and ring b and back, so each op is two
// hand-offs through parked or spinning consumers.
func BenchmarkPingPong(b *testing.B) {
	for _, w := range allWaitStrategies {
		b.Run(w.String(), func(b *testing.B) {
			cfg := ringbuf.Config{Capacity: 64, Wait: w}
			a, back := newRing(b, cfg), newRing(b, cfg)
			ctx := context.Background()
			go a.Run(func(batch []uint64, _ bool) error { return back.PublishBatch(ctx, batch) })
			got := make(chan struct{}, 1)
			go back.Run(func(batch []uint64, _ bool) error {
				for range batch {
					got <- struct{}{}
				}
				return nil
			})
			for b.Loop() {
				if err := a.Publish(ctx, 1); err != nil {
					b.Fatal(err)
				}
				<-got
			}
			a.Close()
			back.Close()
		})
	}
}
