package timewheel

import (
	"container/heap"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// benchLive is the number of timers already scheduled when the timed loop
// starts: a host with thousands of groups and a few timers each.
const benchLive = 100_000

// benchDelays returns a fixed table of delays in [1m, 1h): far enough that
// none of the live timers of time.AfterFunc fire during the benchmark.
func benchDelays() []time.Duration {
	rng := rand.New(rand.NewPCG(3, 4))
	d := make([]time.Duration, 1<<12)
	for i := range d {
		d[i] = time.Minute + time.Duration(rng.Int64N(int64(time.Hour-time.Minute)))
	}
	return d
}

func noop() {}

// BenchmarkScheduleCancel schedules one timer and cancels it, among
// benchLive live timers, on the wheel, on the runtime's timers
// (time.AfterFunc) and on a mutex-protected container/heap queue. wheel,
// afterfunc and heap allocate a timer per operation; wheel-reset reuses
// one, as a Raft group does. Each starts its timed loop from a collected
// heap, so that the garbage of the one before does not bill it.
func BenchmarkScheduleCancel(b *testing.B) {
	delays := benchDelays()
	mask := len(delays) - 1

	b.Run("wheel", func(b *testing.B) {
		w := newBenchWheel(b, delays)
		runtime.GC()
		i := 0
		for b.Loop() {
			w.Schedule(delays[i&mask], noop).Stop()
			i++
		}
	})
	b.Run("wheel-reset", func(b *testing.B) {
		w := newBenchWheel(b, delays)
		t := w.NewTimer(noop)
		runtime.GC()
		i := 0
		for b.Loop() {
			t.Reset(delays[i&mask])
			t.Stop()
			i++
		}
	})
	b.Run("afterfunc", func(b *testing.B) {
		live := make([]*time.Timer, benchLive)
		for i := range live {
			live[i] = time.AfterFunc(delays[i&mask], noop)
		}
		defer func() {
			for _, t := range live {
				t.Stop()
			}
		}()
		runtime.GC()
		i := 0
		for b.Loop() {
			time.AfterFunc(delays[i&mask], noop).Stop()
			i++
		}
	})
	b.Run("heap", func(b *testing.B) {
		q := &heapQueue{}
		for i := range benchLive {
			q.schedule(delays[i&mask], noop)
		}
		runtime.GC()
		i := 0
		for b.Loop() {
			q.stop(q.schedule(delays[i&mask], noop))
			i++
		}
	})
}

func newBenchWheel(b *testing.B, delays []time.Duration) *Wheel {
	w, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchLive {
		w.Schedule(delays[i%len(delays)], noop)
	}
	return w
}

// heapQueue is the road not taken: timers in a binary heap under a mutex,
// as the wheel is, with the index kept for O(log n) removal.
type heapQueue struct {
	mu  sync.Mutex
	h   timerHeap
	now time.Duration
}

type heapTimer struct {
	due   time.Duration
	index int // position in the heap; -1 once removed
	fn    func()
}

func (q *heapQueue) schedule(delay time.Duration, fn func()) *heapTimer {
	t := &heapTimer{fn: fn}
	q.mu.Lock()
	t.due = q.now + delay
	heap.Push(&q.h, t)
	q.mu.Unlock()
	return t
}

func (q *heapQueue) stop(t *heapTimer) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&q.h, t.index)
	return true
}

type timerHeap []*heapTimer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*heapTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
