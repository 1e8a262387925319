package timewheel

import (
	"math/bits"
	"testing"
	"time"
)

// tick is the Tick of the wheels in tests; delays are written as n*tick.
const tick = time.Millisecond

func newWheel(t testing.TB, slots, levels int) *Wheel {
	t.Helper()
	w, err := New(Config{Tick: tick, SlotsPerLevel: slots, Levels: levels})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func advance(t testing.TB, w *Wheel, ticks uint64) int {
	t.Helper()
	n, err := w.Advance(ticks)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func advanceTo(t testing.TB, w *Wheel, tick uint64) int {
	t.Helper()
	n, err := w.AdvanceTo(tick)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// locate returns the level of the bucket that holds tm, or -1 if tm is in
// firing or not pending.
func locate(w *Wheel, tm *Timer) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for b := range w.firing {
		for i := w.nodes.at(b).next; i != b; i = w.nodes.at(i).next {
			if w.nodes.at(i).t == tm {
				return int(b >> w.shift)
			}
		}
	}
	return -1
}

// firedLog records which timer fired at which tick, in firing order.
// Callbacks run on the advancing goroutine, so it needs no lock when the
// test advances the wheel itself.
type firedLog struct {
	w      *Wheel
	events []fireEvent
}

type fireEvent struct {
	id   int
	tick uint64
}

// fn returns a callback that logs id with the tick it fires at.
func (l *firedLog) fn(id int) func() {
	return func() { l.events = append(l.events, fireEvent{id, l.w.Now()}) }
}

// checkWheel fails t unless w's invariants hold: every pending timer sits
// in the bucket place gives it for now, firing holds only timers due now,
// the lists are consistently linked and counted, and every node of the
// slab is a sentinel, a pending timer's or free.
func checkWheel(t testing.TB, w *Wheel) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.nodes
	linked := 0
	for l := uint32(0); l <= w.firing; l++ {
		for i := s.at(l).next; i != l; i = s.at(i).next {
			n := s.at(i)
			if s.at(n.prev).next != i || s.at(n.next).prev != i {
				t.Fatalf("node %d in list %d is linked inconsistently", i, l)
			}
			if n.t == nil || n.t.node != i {
				t.Fatalf("node %d in list %d does not belong to its timer", i, l)
			}
			linked++
			if l == w.firing {
				if n.due != w.now {
					t.Fatalf("node %d due at %d is firing at %d", i, n.due, w.now)
				}
				continue
			}
			want := w.bucket(uint(w.levelOf[bits.Len64(n.due^w.now)]), n.due)
			if n.due <= w.now || l != want {
				t.Fatalf("node %d due at %d is in bucket %d at tick %d, want bucket %d",
					i, n.due, l, w.now, want)
			}
		}
	}
	if linked != w.pending {
		t.Fatalf("%d timers linked, %d counted pending", linked, w.pending)
	}
	free := 0
	for i := s.free; i != 0; i = s.at(i).next {
		free++
	}
	if sentinels := int(w.firing) + 1; sentinels+linked+free != int(s.size) {
		t.Fatalf("%d sentinels + %d linked + %d free nodes != %d in the slab",
			sentinels, linked, free, s.size)
	}
}
