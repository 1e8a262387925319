package ringbuf

import "testing"

// The moderation rules of SpinThenPark, step by step: a chase grows the
// pause until waits park at once, long batches shrink it, and light load
// restores tight polling.
func TestModerationRules(t *testing.T) {
	r, err := New[int](Config{Capacity: 8})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		last  uint8
		n     int64
		want  int
		parks bool // the next wait parks without spinning
	}{
		{waitNone, 3, minPollIters, false},         // a short batch found at once: chasing
		{waitSpun, 5, 2 * minPollIters, false},     // and again, after a quick poll
		{waitSpun, 100, 2 * minPollIters, false},   // a middling batch changes nothing
		{waitSpun, 600, minPollIters, false},       // a long batch halves the pause
		{waitSpunLong, 1, 0, false},                // found after long spinning: light load
		{waitNone, 2, minPollIters, false},         // chasing again
		{waitParked, 3, 0, false},                  // a wake-up that finds little: the load dropped
		{waitParked, 300, 0, false},                // a wake-up under load keeps the pause
		{waitNone, 1, minPollIters, false},         // chase from tight polling ...
		{waitNone, 1, 2 * minPollIters, false},     // ...
		{waitNone, 1, 4 * minPollIters, false},     // ...
		{waitNone, 1, 8 * minPollIters, false},     // ...
		{waitNone, 1, 16 * minPollIters, false},    // ... pause 1024: one poll left
		{waitNone, 1, 32 * minPollIters, true},     // pause beyond the spin budget: park at once
		{waitParked, 300, 32 * minPollIters, true}, // under load it keeps parking first
	}
	for i, s := range steps {
		r.lastWait = s.last
		r.moderate(s.n)
		if r.pollIters != s.want {
			t.Fatalf("step %d (%+v): pollIters %d, want %d", i, s, r.pollIters, s.want)
		}
		if parks := SpinThenPark.pause(0, r.pollIters, spinBudgetIters); parks != s.parks {
			t.Fatalf("step %d: first pause parks=%v, want %v", i, parks, s.parks)
		}
	}
	for range 20 {
		r.lastWait = waitNone
		r.moderate(1)
	}
	if r.pollIters != maxPollIters {
		t.Fatalf("pollIters %d after a long chase, want the cap %d", r.pollIters, maxPollIters)
	}

	// Other strategies are never moderated.
	b, _ := New[int](Config{Capacity: 8, Wait: Blocking})
	b.lastWait = waitNone
	b.moderate(1)
	if b.pollIters != 0 {
		t.Fatalf("Blocking ring moderated: pollIters %d", b.pollIters)
	}
}
