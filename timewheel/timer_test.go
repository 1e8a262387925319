package timewheel

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStopBeforeFiringPreventsIt(t *testing.T) {
	w := newWheel(t, 8, 3)
	log := &firedLog{w: w}
	tm := w.Schedule(100*tick, log.fn(1))
	advanceTo(t, w, 50)
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	if tm.Stop() {
		t.Fatal("second Stop returned true")
	}
	advanceTo(t, w, 1000)
	if len(log.events) != 0 {
		t.Fatalf("stopped timer fired: %v", log.events)
	}
	if w.Len() != 0 {
		t.Fatalf("%d timers pending, want 0", w.Len())
	}
}

func TestStopAfterFiringReturnsFalse(t *testing.T) {
	w := newWheel(t, 8, 3)
	log := &firedLog{w: w}
	tm := w.Schedule(10*tick, log.fn(1))
	advanceTo(t, w, 10)
	if len(log.events) != 1 {
		t.Fatalf("fired %v, want once", log.events)
	}
	if tm.Stop() {
		t.Fatal("Stop of a fired timer returned true")
	}
}

// A node is freed when its timer fires or stops and is reused first, so the
// slab stays at the most timers ever pending at once.
func TestNodesAreReused(t *testing.T) {
	w := newWheel(t, 8, 3)
	base := w.nodes.size // the sentinels
	keep := w.NewTimer(nil)
	for i := range 10_000 {
		w.Schedule(time.Duration(i%300)*tick, nil).Stop() // stopped
		w.Schedule(time.Duration(i%3)*tick, nil)          // fired below
		keep.Reset(time.Duration(i%700) * tick)
		if i%2 == 0 {
			keep.Stop()
		}
		advance(t, w, 1)
	}
	advance(t, w, 10)
	checkWheel(t, w)
	if grown := w.nodes.size - base; grown > 8 {
		t.Fatalf("the slab grew by %d nodes for at most 5 pending timers", grown)
	}
}

func TestZeroAndNilTimersAreInert(t *testing.T) {
	var nilTimer *Timer
	var zero Timer
	if nilTimer.Stop() || nilTimer.Reset(tick) || zero.Stop() || zero.Reset(tick) {
		t.Fatal("a timer of no wheel reported it was pending")
	}
}

// A nil callback is a documented no-op: the timer falls due and counts as
// fired, and nothing panics.
func TestNilCallbackFiresAsNoOp(t *testing.T) {
	w := newWheel(t, 8, 3)
	tm := w.Schedule(3*tick, nil)
	p := w.Every(2*tick, nil)
	if n := advanceTo(t, w, 4); n != 3 { // 2, 3, 4
		t.Fatalf("fired %d timers, want 3", n)
	}
	if tm.Stop() {
		t.Fatal("Stop of a fired nil-callback timer returned true")
	}
	if !p.Stop() {
		t.Fatal("Stop of a pending periodic nil-callback timer returned false")
	}
}

func TestResetMovesAPendingTimer(t *testing.T) {
	w := newWheel(t, 8, 3)
	log := &firedLog{w: w}
	early := w.Schedule(100*tick, log.fn(1))
	late := w.Schedule(5*tick, log.fn(2))
	if !early.Reset(20 * tick) {
		t.Fatal("Reset of a pending timer returned false")
	}
	if !late.Reset(300 * tick) {
		t.Fatal("Reset of a pending timer returned false")
	}
	advanceTo(t, w, 1000)
	if want := []fireEvent{{1, 20}, {2, 300}}; !slices.Equal(log.events, want) {
		t.Fatalf("fired %v, want %v", log.events, want)
	}
	// A fired or stopped timer is re-armed by Reset, which returns false.
	if early.Reset(5 * tick) {
		t.Fatal("Reset of a fired timer returned true")
	}
	advanceTo(t, w, 1010)
	if want := (fireEvent{1, 1005}); len(log.events) != 3 || log.events[2] != want {
		t.Fatalf("fired %v, want %v last", log.events, want)
	}
}

func TestNewTimerIsStoppedUntilReset(t *testing.T) {
	w := newWheel(t, 8, 3)
	log := &firedLog{w: w}
	tm := w.NewTimer(log.fn(1))
	advanceTo(t, w, 100)
	if len(log.events) != 0 || tm.Stop() {
		t.Fatalf("a new timer fired (%v) or was pending", log.events)
	}
	if tm.Reset(7 * tick) {
		t.Fatal("Reset of a new timer returned true")
	}
	advanceTo(t, w, 200)
	if want := []fireEvent{{1, 107}}; !slices.Equal(log.events, want) {
		t.Fatalf("fired %v, want %v", log.events, want)
	}
}

func TestResetFromItsOwnCallback(t *testing.T) {
	w := newWheel(t, 8, 3)
	var ticks []uint64
	var tm *Timer
	tm = w.Schedule(2*tick, func() {
		ticks = append(ticks, w.Now())
		if len(ticks) < 4 {
			if tm.Reset(30 * tick) {
				t.Error("Reset of the firing one-shot timer returned true")
			}
		}
	})
	advanceTo(t, w, 500)
	if want := []uint64{2, 32, 62, 92}; !slices.Equal(ticks, want) {
		t.Fatalf("fired at %v, want %v", ticks, want)
	}
}

// A callback can stop or move timers due on the same tick that have not
// run yet, and a timer it schedules with no delay runs on the next tick.
func TestCallbackStopsAndMovesTimersOfItsTick(t *testing.T) {
	w := newWheel(t, 8, 3)
	log := &firedLog{w: w}
	var b, c *Timer
	w.Schedule(5*tick, func() {
		log.fn(1)()
		if !b.Stop() {
			t.Error("Stop of a timer due on the running tick returned false")
		}
		if !c.Reset(3 * tick) {
			t.Error("Reset of a timer due on the running tick returned false")
		}
		w.Schedule(0, log.fn(4))
	})
	b = w.Schedule(5*tick, log.fn(2))
	c = w.Schedule(5*tick, log.fn(3))
	advanceTo(t, w, 20)
	if want := []fireEvent{{1, 5}, {4, 6}, {3, 8}}; !slices.Equal(log.events, want) {
		t.Fatalf("fired %v, want %v", log.events, want)
	}
}

func TestEveryFiresEachPeriodWithoutDrift(t *testing.T) {
	w := newWheel(t, 8, 3)
	var ticks []uint64
	p := w.Every(7*tick, func() { ticks = append(ticks, w.Now()) })
	// Advance in uneven steps: the period is counted from due ticks, not
	// from when Advance happened to run.
	for _, step := range []uint64{1, 13, 2, 64, 100, 3, 517} {
		advance(t, w, step)
	}
	var want []uint64
	for d := uint64(7); d <= 700; d += 7 {
		want = append(want, d)
	}
	if !slices.Equal(ticks, want) {
		t.Fatalf("fired at %v, want %v", ticks, want)
	}
	if !p.Stop() {
		t.Fatal("Stop of a periodic timer returned false")
	}
	advance(t, w, 1000)
	if len(ticks) != len(want) {
		t.Fatalf("fired after Stop, at %v", ticks[len(want):])
	}
}

func TestEveryRoundsThePeriodUpToWholeTicks(t *testing.T) {
	w := newWheel(t, 8, 3)
	var zero, frac []uint64
	w.Every(0, func() { zero = append(zero, w.Now()) })
	w.Every(2*tick+1, func() { frac = append(frac, w.Now()) })
	advanceTo(t, w, 9)
	if want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(zero, want) {
		t.Fatalf("period 0 fired at %v, want %v", zero, want)
	}
	if want := []uint64{3, 6, 9}; !slices.Equal(frac, want) {
		t.Fatalf("period 2 ticks + 1ns fired at %v, want %v", frac, want)
	}
}

func TestEveryStoppedFromItsOwnCallback(t *testing.T) {
	w := newWheel(t, 8, 3)
	var ticks []uint64
	var p *Timer
	p = w.Every(10*tick, func() {
		ticks = append(ticks, w.Now())
		if len(ticks) == 3 && !p.Stop() {
			t.Error("Stop of a periodic timer from its callback returned false")
		}
	})
	advanceTo(t, w, 200)
	if want := []uint64{10, 20, 30}; !slices.Equal(ticks, want) {
		t.Fatalf("fired at %v, want %v", ticks, want)
	}
}

// Reset of a periodic timer moves the next firing and keeps the period.
func TestResetRephasesAPeriodicTimer(t *testing.T) {
	w := newWheel(t, 8, 3)
	var ticks []uint64
	p := w.Every(10*tick, func() { ticks = append(ticks, w.Now()) })
	advanceTo(t, w, 25)
	if !p.Reset(2 * tick) {
		t.Fatal("Reset of a pending periodic timer returned false")
	}
	advanceTo(t, w, 50)
	if want := []uint64{10, 20, 27, 37, 47}; !slices.Equal(ticks, want) {
		t.Fatalf("fired at %v, want %v", ticks, want)
	}
}

// Goroutines schedule, reset and stop timers while another advances the
// wheel. Every arming fires exactly once unless a Stop or Reset reported
// that it prevented it, and never before its due tick.
func TestConcurrentScheduleResetStop(t *testing.T) {
	const (
		workers   = 4
		perWorker = 3000
	)
	w := newWheel(t, 16, 3)
	type record struct {
		fires    atomic.Int32
		want     int32         // armings that were not prevented
		earliest atomic.Uint64 // lower bound on every due tick of the timer
		bad      atomic.Uint64 // a fire tick before earliest, +1
	}
	recs := make([]record, workers*perWorker)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range perWorker {
				r := &recs[g*perWorker+i]
				d := uint64(rng.IntN(200))
				r.earliest.Store(w.Now() + max(d, 1))
				tm := w.Schedule(time.Duration(d)*tick, func() {
					if now := w.Now(); now < r.earliest.Load() {
						r.bad.Store(now + 1)
					}
					r.fires.Add(1)
				})
				armed := int32(1)
				if rng.IntN(3) == 0 {
					d := uint64(rng.IntN(200))
					r.earliest.Store(min(r.earliest.Load(), w.Now()+max(d, 1)))
					if tm.Reset(time.Duration(d) * tick) {
						armed-- // the first arming was prevented
					}
					armed++
				}
				if rng.IntN(2) == 0 && tm.Stop() {
					armed--
				}
				r.want = armed
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			advance(t, w, 1)
		}
	}
	advance(t, w, 500)
	for i := range recs {
		r := &recs[i]
		if got := r.fires.Load(); got != r.want {
			t.Fatalf("timer %d fired %d times, want %d", i, got, r.want)
		}
		if bad := r.bad.Load(); bad != 0 {
			t.Fatalf("timer %d fired at tick %d, before %d", i, bad-1, r.earliest.Load())
		}
	}
	if n := w.Len(); n != 0 {
		t.Fatalf("%d timers still pending", n)
	}
}
