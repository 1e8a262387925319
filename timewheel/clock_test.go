package timewheel

import (
	"testing"
	"time"
)

// A ManualClock's ticker behaves like time.Ticker: one buffered tick, the
// rest dropped for a slow reader, nothing after Stop.
func TestManualClockTicker(t *testing.T) {
	start := time.Unix(0, 0)
	c := NewManualClock(start)
	tk := c.NewTicker(10 * time.Millisecond)
	c.Add(9 * time.Millisecond)
	c.Add(0)
	c.Add(-time.Hour) // ignored: the clock is monotonic
	if got := c.Now(); !got.Equal(start.Add(9 * time.Millisecond)) {
		t.Fatalf("clock reads %v, want 9ms after start", got.Sub(start))
	}
	select {
	case <-tk.C():
		t.Fatal("ticked before its period")
	default:
	}
	c.Add(25 * time.Millisecond) // at 34ms: ticks at 10, 20 and 30 collapse into one
	if got := (<-tk.C()).Sub(start); got != 34*time.Millisecond {
		t.Fatalf("tick carries %v, want the clock's 34ms", got)
	}
	select {
	case <-tk.C():
		t.Fatal("more than one tick buffered")
	default:
	}
	c.Add(5 * time.Millisecond) // 39ms: the next tick is due at 40ms
	select {
	case <-tk.C():
		t.Fatal("ticked at 39ms; the next tick is at 40ms")
	default:
	}
	tk.Stop()
	c.Add(time.Second)
	select {
	case <-tk.C():
		t.Fatal("ticked after Stop")
	default:
	}
}
