package timewheel

import (
	"errors"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// ErrAdvancing is returned by Advance and AdvanceTo when another advance of
// the same wheel is running, including one whose callback called Advance:
// callbacks run in due order only if one goroutine advances at a time.
var ErrAdvancing = errors.New("timewheel: wheel is already being advanced")

// Wheel is a hierarchical timing wheel. Schedule, Reset and Stop are safe
// from any goroutine; Advance and AdvanceTo run the callbacks, one goroutine
// at a time.
type Wheel struct {
	cfg   Config
	shift uint   // log2(SlotsPerLevel): the width of one level's digit
	mask  uint64 // SlotsPerLevel - 1
	// levelOf[n] is the level of a timer whose due tick and now differ in
	// bit n-1 and none above (n = bits.Len64(due^now)), capped at the top
	// level. A table, so that linking a timer costs no division.
	levelOf [65]uint8

	advancing atomic.Bool // set while Advance runs, to refuse a second one

	mu      sync.Mutex
	now     uint64 // current tick. Invariant: every pending timer is due after now, or is in firing.
	pending int    // timers linked in buckets or in firing
	// nodes holds the lists: node l<<shift | s is the sentinel of bucket s
	// of level l, node firing that of firing, and the rest are timers'.
	// Invariant: a timer that is not firing sits in the bucket place gives
	// its due tick for now.
	nodes  slab
	firing uint32 // sentinel of the timers due at now, in the order they will run
}

// New returns an empty wheel at tick 0, or a *ConfigError.
func New(cfg Config) (*Wheel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Wheel{
		cfg:   cfg,
		shift: uint(cfg.slotBits()),
		mask:  uint64(cfg.SlotsPerLevel - 1),
	}
	for n := range w.levelOf {
		w.levelOf[n] = uint8(min(max(n-1, 0)/int(w.shift), cfg.Levels-1))
	}
	for range cfg.Levels*cfg.SlotsPerLevel + 1 {
		w.nodes.clear(w.nodes.alloc())
	}
	w.firing = uint32(cfg.Levels * cfg.SlotsPerLevel)
	return w, nil
}

// Config returns the configuration the wheel was built with.
func (w *Wheel) Config() Config { return w.cfg }

// Now returns the current tick: the last one advanced to.
func (w *Wheel) Now() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

// Len returns the number of pending timers.
func (w *Wheel) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending
}

// Advance moves the wheel ticks ticks forward; see AdvanceTo.
func (w *Wheel) Advance(ticks uint64) (fired int, err error) {
	if !w.advancing.CompareAndSwap(false, true) {
		return 0, ErrAdvancing
	}
	defer w.advancing.Store(false)
	return w.advanceTo(w.Now() + ticks), nil
}

// AdvanceTo moves the wheel forward to tick, one tick at a time, and runs
// the callback of every timer that falls due on the way, in the calling
// goroutine and outside the wheel's lock, in due order. A tick at or before
// Now is a no-op. It returns the number of timers that fired, or
// ErrAdvancing if the wheel is already being advanced.
func (w *Wheel) AdvanceTo(tick uint64) (fired int, err error) {
	if !w.advancing.CompareAndSwap(false, true) {
		return 0, ErrAdvancing
	}
	defer w.advancing.Store(false)
	return w.advanceTo(tick), nil
}

// advanceTo takes the lock once per tick and once per callback, never
// across a callback, so that schedulers wait for one step at most.
func (w *Wheel) advanceTo(tick uint64) (fired int) {
	for {
		w.mu.Lock()
		if i := w.nodes.at(w.firing).next; i != w.firing {
			fn := w.fire(i)
			w.mu.Unlock()
			if fn != nil {
				fn()
			}
			fired++
			continue
		}
		if w.now >= tick {
			w.mu.Unlock()
			return fired
		}
		if w.pending == 0 {
			w.now = tick // nothing to cascade or fire on the way
		} else {
			w.step()
		}
		w.mu.Unlock()
	}
}

// step moves now one tick forward. When now's digits below level l are all
// zero, level l's cursor has moved to a new bucket, and step cascades it,
// for the highest such l: place puts each of its timers straight on its
// level, however far it falls. The same bucket of each level below l is
// bucket 0, which is always empty, as a timer on a level under the top has
// a higher digit there than now. Then level 0's bucket for now moves into
// firing.
func (w *Wheel) step() {
	w.now++
	if w.now&w.mask == 0 {
		l := min(uint(bits.TrailingZeros64(w.now))/w.shift, uint(w.cfg.Levels-1))
		w.relink(w.bucket(l, w.now))
	}
	w.relink(w.bucket(0, w.now))
}

// bucket returns the sentinel of the level l bucket that holds tick.
func (w *Wheel) bucket(l uint, tick uint64) uint32 {
	return uint32(uint64(l)<<w.shift | (tick>>(l*w.shift))&w.mask)
}

// relink empties bucket b and links each of its timers again, in order:
// those due now go to firing, the others to their place for the new now.
// Keeping the order keeps timers due on one tick in scheduling order.
func (w *Wheel) relink(b uint32) {
	i := w.nodes.at(b).next
	w.nodes.clear(b)
	for i != b { // the detached chain still ends at b
		n := w.nodes.at(i)
		next := n.next
		if n.due == w.now {
			w.nodes.pushBack(w.firing, i)
		} else {
			w.place(i, n.due)
		}
		i = next
	}
}

// fire unlinks node i, the head of firing, reschedules its timer if
// periodic or frees the node, and returns the callback. Called with mu
// held.
func (w *Wheel) fire(i uint32) func() {
	w.nodes.unlink(i)
	n := w.nodes.at(i)
	t := n.t
	if t.period > 0 {
		n.due += t.period
		w.place(i, n.due)
	} else {
		w.nodes.release(i)
		t.node = 0
		w.pending--
	}
	return t.fn
}

// place links node i, due at tick due, into the bucket of the highest
// digit in which due differs from now: the top level if that digit is
// above it (parked), level 0 if due is in now's turn of level 0. Called
// with mu held.
func (w *Wheel) place(i uint32, due uint64) {
	w.nodes.pushBack(w.bucket(uint(w.levelOf[bits.Len64(due^w.now)]), due), i)
}

// schedule (re)links t to fire delay from now and reports whether it was
// pending.
func (w *Wheel) schedule(t *Timer, delay time.Duration) bool {
	ticks := w.cfg.ticks(delay)
	w.mu.Lock()
	i := t.node
	active := i != 0
	if active {
		w.nodes.unlink(i)
	} else {
		i = w.nodes.alloc()
		t.node = i
		w.pending++
	}
	n := w.nodes.at(i)
	n.t, n.due = t, w.now+ticks
	w.place(i, n.due)
	w.mu.Unlock()
	return active
}

// cancel unlinks t and reports whether it was pending.
func (w *Wheel) cancel(t *Timer) bool {
	w.mu.Lock()
	i := t.node
	if i != 0 {
		w.nodes.unlink(i)
		w.nodes.release(i)
		t.node = 0
		w.pending--
	}
	w.mu.Unlock()
	return i != 0
}
