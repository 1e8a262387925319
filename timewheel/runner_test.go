package timewheel

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lni/goutils/leaktest"
)

// timeLog records the virtual time at which callbacks run, from the
// runner's goroutine.
type timeLog struct {
	mu    sync.Mutex
	start time.Time
	at    map[string][]time.Duration
}

func (l *timeLog) fn(name string) func() {
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.at[name] = append(l.at[name], time.Since(l.start))
	}
}

func (l *timeLog) get(name string) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.at[name])
}

// In a synctest bubble the runner's time.Ticker runs in virtual time, so
// callbacks run at exactly the start of their due tick.
func TestRunnerFiresAtVirtualTimes(t *testing.T) {
	defer leaktest.AfterTest(t)()
	synctest.Test(t, func(t *testing.T) {
		w, err := New(Config{Tick: 10 * time.Millisecond, SlotsPerLevel: 8, Levels: 2})
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRunner(w, nil)
		if err != nil {
			t.Fatal(err)
		}
		log := &timeLog{start: time.Now(), at: map[string][]time.Duration{}}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		w.Schedule(55*time.Millisecond, log.fn("once"))  // rounds up to tick 6
		w.Schedule(900*time.Millisecond, log.fn("far"))  // beyond the 64-tick range
		w.Every(30*time.Millisecond, log.fn("periodic")) // ticks 3, 6, 9, ...
		time.Sleep(1005 * time.Millisecond)
		synctest.Wait()
		r.Stop()

		ms := time.Millisecond
		if got, want := log.get("once"), []time.Duration{60 * ms}; !slices.Equal(got, want) {
			t.Errorf("once fired at %v, want %v", got, want)
		}
		if got, want := log.get("far"), []time.Duration{900 * ms}; !slices.Equal(got, want) {
			t.Errorf("far fired at %v, want %v", got, want)
		}
		var want []time.Duration
		for d := 30 * ms; d <= 1000*ms; d += 30 * ms {
			want = append(want, d)
		}
		if got := log.get("periodic"); !slices.Equal(got, want) {
			t.Errorf("periodic fired at %v, want %v", got, want)
		}
		if now := w.Now(); now != 100 {
			t.Errorf("wheel at tick %d after 1005ms of 10ms ticks, want 100", now)
		}
		// Stopped, the wheel no longer moves.
		time.Sleep(time.Second)
		if now := w.Now(); now != 100 {
			t.Errorf("stopped runner moved the wheel to tick %d", now)
		}
	})
}

// A runner that sees one ticker event for many elapsed ticks (as a late
// reader of a time.Ticker does) advances by the elapsed time.
func TestRunnerCatchesUpFromElapsedTime(t *testing.T) {
	defer leaktest.AfterTest(t)()
	synctest.Test(t, func(t *testing.T) {
		clock := NewManualClock(time.Unix(1000, 0))
		w := newWheel(t, 8, 3)
		r, err := NewRunner(w, clock)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		defer r.Stop()
		var ticks []uint64
		for _, d := range []uint64{30, 10, 36, 20} {
			w.Schedule(time.Duration(d)*tick, func() { ticks = append(ticks, w.Now()) })
		}
		clock.Add(35 * tick) // one ticker event
		synctest.Wait()
		if got := w.Now(); got != 35 {
			t.Fatalf("wheel at tick %d after 35 ticks of time, want 35", got)
		}
		if want := []uint64{10, 20, 30}; !slices.Equal(ticks, want) {
			t.Fatalf("fired at ticks %v, want %v", ticks, want)
		}
		clock.Add(tick / 2)
		synctest.Wait()
		if len(ticks) != 3 {
			t.Fatalf("tick 36 fired half a tick early: %v", ticks)
		}
		clock.Add(tick / 2)
		synctest.Wait()
		if want := []uint64{10, 20, 30, 36}; !slices.Equal(ticks, want) {
			t.Fatalf("fired at ticks %v, want %v", ticks, want)
		}
	})
}

func TestRunnerStartStop(t *testing.T) {
	defer leaktest.AfterTest(t)()
	if _, err := NewRunner(nil, nil); err != ErrNilWheel {
		t.Fatalf("NewRunner(nil) returned %v, want ErrNilWheel", err)
	}
	synctest.Test(t, func(t *testing.T) {
		w := newWheel(t, 8, 3)
		r, err := NewRunner(w, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Stop() // a stopped runner: no-op
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(); err != ErrRunning {
			t.Fatalf("second Start returned %v, want ErrRunning", err)
		}
		time.Sleep(10*tick + tick/2)
		r.Stop()
		r.Stop()
		if now := w.Now(); now != 10 {
			t.Fatalf("wheel at tick %d, want 10", now)
		}
		// Restarted, it counts from the restart: the stopped time is lost.
		time.Sleep(time.Hour)
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		fired := false
		w.Schedule(5*tick, func() { fired = true })
		time.Sleep(5*tick + tick/2)
		r.Stop()
		if !fired || w.Now() != 15 {
			t.Fatalf("after restart: fired %v at tick %d, want true at 15", fired, w.Now())
		}
	})
}
