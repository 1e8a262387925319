package timewheel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestFiringOrderByDueTickThenSchedulingOrder(t *testing.T) {
	w := newWheel(t, 8, 3)
	log := &firedLog{w: w}
	w.Schedule(3*tick, log.fn(1))
	w.Schedule(1*tick, log.fn(2))
	w.Schedule(3*tick, log.fn(3))
	w.Schedule(2*tick, log.fn(4))
	w.Schedule(3*tick, log.fn(5))
	if n := advance(t, w, 5); n != 5 {
		t.Fatalf("fired %d timers, want 5", n)
	}
	want := []fireEvent{{2, 1}, {4, 2}, {1, 3}, {3, 3}, {5, 3}}
	if !slices.Equal(log.events, want) {
		t.Fatalf("fired %v, want %v", log.events, want)
	}
}

// Timers due on one tick fire in scheduling order even when the earlier
// ones cascade down from higher levels after the later ones were linked
// straight into level 0.
func TestSchedulingOrderSurvivesCascades(t *testing.T) {
	w := newWheel(t, 8, 3)
	log := &firedLog{w: w}
	w.Schedule(70*tick, log.fn(1)) // level 2
	w.Schedule(70*tick, log.fn(2)) // level 2, after 1
	advanceTo(t, w, 60)
	w.Schedule(10*tick, log.fn(3)) // level 1 (60 and 70 differ in digit 1)
	advanceTo(t, w, 65)
	w.Schedule(5*tick, log.fn(4)) // level 0
	advanceTo(t, w, 80)
	want := []fireEvent{{1, 70}, {2, 70}, {3, 70}, {4, 70}}
	if !slices.Equal(log.events, want) {
		t.Fatalf("fired %v, want %v", log.events, want)
	}
}

// The seed's example: 3 levels of 8 slots cover 512 ticks; a timer due in
// 500 ticks starts in level 2, moves to level 1, then level 0, and fires at
// tick 500.
func TestDueIn500TicksPassesThroughThreeLevels(t *testing.T) {
	w := newWheel(t, 8, 3)
	log := &firedLog{w: w}
	tm := w.Schedule(500*tick, log.fn(1))
	// 500 is 0o764: level 2 until tick 0o700 = 448, then level 1 until
	// 0o760 = 496, then level 0.
	for _, c := range []struct {
		at    uint64
		level int
	}{{0, 2}, {447, 2}, {448, 1}, {495, 1}, {496, 0}, {499, 0}} {
		advanceTo(t, w, c.at)
		if got := locate(w, tm); got != c.level {
			t.Fatalf("at tick %d the timer is in level %d, want %d", c.at, got, c.level)
		}
		if len(log.events) != 0 {
			t.Fatalf("fired early: %v", log.events)
		}
	}
	advanceTo(t, w, 500)
	if want := []fireEvent{{1, 500}}; !slices.Equal(log.events, want) {
		t.Fatalf("fired %v, want %v", log.events, want)
	}
	advanceTo(t, w, 2000)
	if len(log.events) != 1 {
		t.Fatalf("fired again: %v", log.events)
	}
}

// Every delay from 0 to 2000 ticks, scheduled in random order from several
// starting ticks on small wheels (most delays beyond their range), fires at
// exactly now+max(1, delay), once, in scheduling order within a tick.
func TestExactFiringSweep(t *testing.T) {
	const delayMax = 2000
	shapes := []struct{ slots, levels int }{{2, 1}, {2, 3}, {4, 2}, {8, 3}, {16, 2}, {64, 2}}
	starts := []uint64{0, 1, 5, 63, 64, 511, 1000, 4095}
	for _, s := range shapes {
		for _, start := range starts {
			rng := rand.New(rand.NewPCG(uint64(s.slots), start))
			w := newWheel(t, s.slots, s.levels)
			advanceTo(t, w, start)
			log := &firedLog{w: w}
			delays := rng.Perm(delayMax + 1) // id i has delay delays[i]
			for id, d := range delays {
				w.Schedule(time.Duration(d)*tick, log.fn(id))
			}
			checkWheel(t, w)
			for to := start; to < start+delayMax+10; {
				to = min(to+97, start+delayMax+10)
				advanceTo(t, w, to)
				checkWheel(t, w)
			}
			// The model: due = start + max(1, d); ties in id order.
			want := make([]fireEvent, len(delays))
			for id, d := range delays {
				want[id] = fireEvent{id, start + uint64(max(1, d))}
			}
			sort.SliceStable(want, func(i, j int) bool { return want[i].tick < want[j].tick })
			if !slices.Equal(log.events, want) {
				t.Fatalf("%d slots × %d levels from tick %d: fired %d timers, first difference %s",
					s.slots, s.levels, start, len(log.events), firstDiff(log.events, want))
			}
			if n := w.Len(); n != 0 {
				t.Fatalf("%d timers still pending", n)
			}
		}
	}
}

func firstDiff(got, want []fireEvent) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d: got timer %d at tick %d, want timer %d at tick %d",
				i, got[i].id, got[i].tick, want[i].id, want[i].tick)
		}
	}
	return fmt.Sprintf("in length: got %d, want %d", len(got), len(want))
}

func TestDelayRoundsUpToWholeTicks(t *testing.T) {
	for _, c := range []struct {
		delay time.Duration
		ticks uint64
	}{
		{-time.Hour, 1}, {0, 1}, {1, 1}, {tick - 1, 1}, {tick, 1}, {tick + 1, 2},
		{10*tick - 1, 10}, {10 * tick, 10}, {10*tick + 1, 11},
	} {
		w := newWheel(t, 8, 3)
		advanceTo(t, w, 7)
		fired := uint64(0)
		w.Schedule(c.delay, func() { fired = w.Now() })
		advanceTo(t, w, 100)
		if want := 7 + c.ticks; fired != want {
			t.Errorf("delay %v from tick 7 fired at tick %d, want %d", c.delay, fired, want)
		}
	}
}

// 2 levels of 8 slots cover 64 ticks; later timers are parked in the top
// level and still fire on their tick.
func TestDelaysBeyondTheTopLevelFireOnTime(t *testing.T) {
	w := newWheel(t, 8, 2)
	advanceTo(t, w, 13)
	log := &firedLog{w: w}
	delays := []uint64{64, 65, 100, 127, 128, 512, 1000, 4099, 100_000}
	for i, d := range delays {
		tm := w.Schedule(time.Duration(d)*tick, log.fn(i))
		if l := locate(w, tm); l != 1 {
			t.Fatalf("delay %d is in level %d, want the top level 1", d, l)
		}
	}
	checkWheel(t, w)
	advanceTo(t, w, 13+100_000+5)
	if len(log.events) != len(delays) {
		t.Fatalf("fired %v, want %d timers", log.events, len(delays))
	}
	for i, e := range log.events {
		if e.id != i || e.tick != 13+delays[i] {
			t.Fatalf("fired %v at tick %d, want timer %d at tick %d", e.id, e.tick, i, 13+delays[i])
		}
	}
}

// A million timers at random delays, some beyond the wheel's range, each
// fire once, at their due tick.
func TestMillionTimersFireOnceOnTime(t *testing.T) {
	const (
		timers   = 1_000_000
		delayMax = 300_000 // ticks; the wheel covers 2^18 = 262144
	)
	w := newWheel(t, 64, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	due := make([]uint32, timers)
	firedAt := make([]uint32, timers) // 0: not fired
	fires := make([]uint8, timers)
	var now uint32 // the tick being advanced to; callbacks run inside Advance
	for i := range timers {
		due[i] = uint32(1 + rng.IntN(delayMax))
		w.Schedule(time.Duration(due[i])*tick, func() { firedAt[i] = now; fires[i]++ })
	}
	checkWheel(t, w)
	for now = 1; now <= delayMax+1; now++ {
		advance(t, w, 1)
	}
	checkWheel(t, w)
	for i := range timers {
		if fires[i] != 1 || firedAt[i] != due[i] {
			t.Fatalf("timer %d due at %d fired %d times, last at %d", i, due[i], fires[i], firedAt[i])
		}
	}
	if n := w.Len(); n != 0 {
		t.Fatalf("%d timers still pending", n)
	}
}

func TestAdvanceToThePastIsANoOp(t *testing.T) {
	w := newWheel(t, 8, 3)
	advanceTo(t, w, 50)
	if n := advanceTo(t, w, 10); n != 0 || w.Now() != 50 {
		t.Fatalf("AdvanceTo(10) at 50: fired %d, now %d; want 0, 50", n, w.Now())
	}
}

func TestAdvanceFromACallbackIsRefused(t *testing.T) {
	w := newWheel(t, 8, 3)
	var err error
	w.Schedule(tick, func() { _, err = w.Advance(1) })
	advance(t, w, 5)
	if err != ErrAdvancing {
		t.Fatalf("Advance inside a callback returned %v, want ErrAdvancing", err)
	}
	if w.Now() != 5 {
		t.Fatalf("now %d, want 5", w.Now())
	}
}
