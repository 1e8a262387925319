package ringbuf

import (
	"fmt"
	"runtime"
)

// WaitStrategy says how the consumer waits for a slot to be published, and
// how a producer waits for a slot to be freed. A producer never waits on a
// full ring by spinning without end: the ring is full because the consumer
// is behind, and a spinning producer would take the processor the consumer
// needs (with more goroutines than processors, BusySpin producers slowed a
// 2-slot ring to a millisecond per item). So under BusySpin and Yield
// producers spin for about a microsecond, then park; like the Disruptor,
// whose producers park on a full ring whatever the consumer's strategy.
// The zero value is SpinThenPark.
type WaitStrategy uint8

const (
	// SpinThenPark spins about as long as a park costs, then parks until
	// woken, and paces a consumer that chases its producers (moderate.go).
	// It burns no CPU when idle and stays within 2x of the better of
	// spinning and parking. The default.
	SpinThenPark WaitStrategy = iota
	// BusySpin never parks the consumer: the lowest latency with a core to
	// spare per waiting consumer, a core burnt, and slow hand-offs when
	// goroutines outnumber processors (see benchmarks/README.md).
	BusySpin
	// Yield calls runtime.Gosched between checks: it lets other goroutines
	// run but never sleeps.
	Yield
	// Blocking parks at once: the least CPU, a wake-up on every hand-off.
	Blocking
)

var waitNames = [...]string{
	SpinThenPark: "spin-then-park",
	BusySpin:     "busy-spin",
	Yield:        "yield",
	Blocking:     "blocking",
}

func (w WaitStrategy) String() string {
	if int(w) < len(waitNames) {
		return waitNames[w]
	}
	return fmt.Sprintf("WaitStrategy(%d)", uint8(w))
}

// ParseWaitStrategy reads a strategy by the name String gives it.
func ParseWaitStrategy(s string) (WaitStrategy, error) {
	for w, name := range waitNames {
		if s == name {
			return WaitStrategy(w), nil
		}
	}
	return 0, fmt.Errorf("ringbuf: unknown wait strategy %q (want spin-then-park, busy-spin, yield or blocking)", s)
}

// MarshalText lets a config file name the strategy.
func (w WaitStrategy) MarshalText() ([]byte, error) {
	if int(w) >= len(waitNames) {
		return nil, fmt.Errorf("ringbuf: unknown wait strategy %d", uint8(w))
	}
	return []byte(w.String()), nil
}

// UnmarshalText lets a config file name the strategy.
func (w *WaitStrategy) UnmarshalText(text []byte) error {
	v, err := ParseWaitStrategy(string(text))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// The budget of SpinThenPark: a waiter polls for spinBudgetIters loop
// iterations in all (about 200ns on current x86 cores), pausing between
// polls, then parks. That is about what a park and a wake-up through a Go
// channel cost, the classic competitive-spinning bound: whichever way the
// wait goes, it costs at most twice the better choice. Spinning longer
// lost everywhere on 2 processors: a spinning consumer holds a processor
// that the next stage or a producer needs (a two-ring round trip took 32µs
// with a 13µs budget, 1.1µs with this one, 0.6µs with Blocking). It does
// not yield before parking either: a yield hands the processor to a
// producer, and producers on every core fight over the same cache lines
// (4 producers on 2 processors: 95ns per item with 8 yields, 57ns without).
const (
	spinBudgetIters = 1 << 10
	// minPollIters is the pause between two polls of a tight spin.
	minPollIters = 64
)

// pause waits once between two unsuccessful checks, the i-th time, with
// pollIters loop iterations between polls while spinning and budgetIters in
// all, and reports true instead when the waiter should park.
func (w WaitStrategy) pause(i, pollIters, budgetIters int) (park bool) {
	switch w {
	case Blocking:
		return true
	case BusySpin:
		if i&1023 == 1023 {
			// Even a busy spinner yields now and then: with more goroutines
			// than processors, the goroutine it waits for may need this one.
			runtime.Gosched()
		}
		return false
	case Yield:
		runtime.Gosched()
		return false
	}
	pollIters = max(pollIters, minPollIters)
	if i >= budgetIters/pollIters {
		return true
	}
	spinFor(pollIters)
	return false
}

// spinFor burns n loop iterations without touching shared memory. It is
// not inlined so that the compiler keeps the empty loop.
//
//go:noinline
func spinFor(n int) {
	for i := 0; i < n; i++ {
	}
}

// forProducers is the strategy a producer waits for space with.
func (w WaitStrategy) forProducers() WaitStrategy {
	if w == Blocking {
		return Blocking
	}
	return SpinThenPark
}
