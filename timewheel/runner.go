package timewheel

import (
	"errors"
	"sync"
)

// Errors of a Runner.
var (
	ErrNilWheel = errors.New("timewheel: runner needs a wheel, got nil")
	ErrRunning  = errors.New("timewheel: runner is already running")
)

// Runner advances a Wheel from a Clock's ticker in its own goroutine, where
// the wheel's callbacks run. The tick it advances to is computed from the
// time elapsed since Start, not from the number of ticker events, so a
// runner that was late (the ticker drops ticks for a slow reader) catches
// up all the missed ticks at once, in due order.
type Runner struct {
	w     *Wheel
	clock Clock

	mu   sync.Mutex
	stop chan struct{} // closed to stop the goroutine; nil while stopped
	done chan struct{} // closed when the goroutine has returned
}

// NewRunner returns a stopped runner of w; a nil clock means SystemClock.
func NewRunner(w *Wheel, clock Clock) (*Runner, error) {
	if w == nil {
		return nil, ErrNilWheel
	}
	if clock == nil {
		clock = SystemClock{}
	}
	return &Runner{w: w, clock: clock}, nil
}

// Start starts the goroutine, or returns ErrRunning. Tick Now()+k of the
// wheel falls k ticks after Start; the time between a Stop and the next
// Start does not count.
func (r *Runner) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop != nil {
		return ErrRunning
	}
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	tick := r.w.cfg.Tick
	start, base := r.clock.Now(), r.w.Now()
	// Made here, not in the goroutine, so that a clock read after Start
	// returns is later than start and its ticks reach the ticker.
	ticker := r.clock.NewTicker(tick)
	go func(stop <-chan struct{}, done chan<- struct{}) {
		defer close(done)
		defer ticker.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ticker.C():
			}
			elapsed := r.clock.Now().Sub(start)
			if elapsed < 0 {
				continue // a clock that went backwards; wait for it
			}
			// ErrAdvancing means someone else is advancing the wheel by
			// hand; the next tick catches up.
			_, _ = r.w.AdvanceTo(base + uint64(elapsed/tick))
		}
	}(r.stop, r.done)
	return nil
}

// Stop stops the goroutine and waits for it to return, after the callback
// it may be running. It does nothing on a stopped runner. It must not be
// called from a callback of the wheel, which runs on that goroutine.
func (r *Runner) Stop() {
	r.mu.Lock()
	stop, done := r.stop, r.done
	r.stop, r.done = nil, nil
	r.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
}
