package transport

import (
	"math/rand/v2"
	"time"
)

// backoff is the reconnect delay: it doubles after each failure from min
// up to max, and each wait is drawn from its upper half, so that nodes cut
// off together do not all redial in the same instant, and none redials in
// a tight loop.
type backoff struct {
	min, max time.Duration
	cur      time.Duration // the ceiling of the next wait; 0 before the first failure
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.cur = 0 }
