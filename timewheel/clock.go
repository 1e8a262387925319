package timewheel

import (
	"sync"
	"time"
)

// Clock is the time source of a Runner: the system clock in production, a
// ManualClock in tests. Inside a testing/synctest bubble the system clock
// is already virtual.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker is the part of time.Ticker that a Runner uses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// SystemClock is the Clock of package time.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time { return s.t.C }
func (s systemTicker) Stop()               { s.t.Stop() }

// ManualClock is a Clock that moves only when Add is called. Its tickers
// behave like time.Ticker: a tick that finds the channel full is dropped, so
// a slow reader sees one tick for many periods, as a late Runner does.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*manualTicker
}

// NewManualClock returns a ManualClock reading start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d and sends a tick to every ticker whose
// period has elapsed. A d of zero or less does nothing: the clock is
// monotonic, like the one a Runner expects.
func (c *ManualClock) Add(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	live := c.tickers[:0]
	for _, t := range c.tickers {
		if t.stopped {
			continue
		}
		live = append(live, t)
		if c.now.Before(t.next) {
			continue
		}
		select {
		case t.ch <- c.now:
		default: // the reader is behind; it will catch up from Now
		}
		t.next = t.next.Add((c.now.Sub(t.next)/t.period + 1) * t.period)
	}
	clear(c.tickers[len(live):])
	c.tickers = live
}

// NewTicker returns a ticker that ticks every d of the clock's time. A d of
// zero or less ticks on every Add.
func (c *ManualClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	d = max(d, 1)
	t := &manualTicker{c: c, ch: make(chan time.Time, 1), period: d, next: c.now.Add(d)}
	c.tickers = append(c.tickers, t)
	return t
}

type manualTicker struct {
	c       *ManualClock
	ch      chan time.Time
	period  time.Duration
	next    time.Time // when the next tick is due; guarded by c.mu
	stopped bool      // guarded by c.mu
}

func (t *manualTicker) C() <-chan time.Time { return t.ch }

func (t *manualTicker) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.stopped = true
}
