package timewheel

import "time"

// Timer is a callback that a Wheel runs at a tick. Like time.Timer it can be
// stopped and reset any number of times, from any goroutine and from
// callbacks, its own included. Rescheduling it allocates nothing (once the
// wheel has room for as many timers as were ever pending at once), which is
// how a Raft group should hold its election and heartbeat timers. A pending
// timer is referenced by its wheel, so it fires even if the caller drops it.
//
// A nil callback is allowed and does nothing: the timer still falls due and
// counts as fired. The zero Timer and a nil *Timer belong to no wheel: Reset
// and Stop do nothing and report false.
type Timer struct {
	w      *Wheel
	fn     func()
	period uint64 // ticks between firings of a periodic timer; 0 for one-shot
	node   uint32 // the timer's node in w's slab while pending, else 0; under w.mu
}

// NewTimer returns a stopped timer of w that runs fn when it fires; Reset
// arms it.
func (w *Wheel) NewTimer(fn func()) *Timer {
	return &Timer{w: w, fn: fn}
}

// Schedule runs fn once, delay from now (see the package doc for rounding),
// and returns the timer, which can be stopped or reset.
func (w *Wheel) Schedule(delay time.Duration, fn func()) *Timer {
	t := &Timer{w: w, fn: fn}
	w.schedule(t, delay)
	return t
}

// Every runs fn every period, rounded up to whole ticks (at least one),
// starting one period from now. Each firing is due exactly one period after
// the previous due tick, however late the callbacks run, so the timer does
// not drift. It runs until stopped.
func (w *Wheel) Every(period time.Duration, fn func()) *Timer {
	t := &Timer{w: w, fn: fn, period: w.cfg.ticks(period)}
	w.schedule(t, period)
	return t
}

// Reset schedules t to fire delay from now, whether or not it was pending,
// and reports whether it was pending (had not fired or been stopped). On a
// periodic timer it moves only the next firing, and the period continues
// from there; unlike time.Ticker.Reset it keeps the period, so that a
// heartbeat can be re-phased without being re-created.
func (t *Timer) Reset(delay time.Duration) bool {
	if t == nil || t.w == nil {
		return false
	}
	return t.w.schedule(t, delay)
}

// Stop prevents t from firing and reports whether it did so: false if t had
// already fired or been stopped. A callback that has started is not
// interrupted; Stop does not wait for it. Stop ends a periodic timer.
func (t *Timer) Stop() bool {
	if t == nil || t.w == nil {
		return false
	}
	return t.w.cancel(t)
}
