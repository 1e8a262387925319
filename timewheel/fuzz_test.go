package timewheel

import (
	"slices"
	"testing"
	"time"
)

// FuzzWheel runs a sequence of operations, read from the fuzz bytes, on a
// small wheel and on a reference model (a list of due ticks scanned tick by
// tick) and requires the same firings, in the same order, and the same
// results from Stop and Reset. Callbacks themselves reset their own timer
// or stop another, so re-entry is fuzzed too.
func FuzzWheel(f *testing.F) {
	f.Add([]byte{0x09, 0, 200, 1, 4, 255, 4, 255, 4, 255, 4, 255})
	f.Add([]byte{0x00, 0, 3, 0, 0, 3, 0, 2, 0, 5, 4, 10})
	f.Add([]byte{0x0b, 6, 40, 3, 12, 7, 1, 2, 1, 9, 3, 1, 50, 5, 4, 63, 2, 1, 4, 100})
	f.Add([]byte{0x03, 1, 0, 1, 31, 0, 250, 2, 18, 30, 1, 5, 4, 200, 2, 0})
	f.Add([]byte{0x07, 12, 255, 255, 30, 9, 20, 24, 1, 1, 3, 0, 0, 4, 64, 5, 5, 2, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 {
			return
		}
		// Longer inputs add little, and the fuzzer minimizes every new input in
		// time quadratic in its length.
		ops = ops[:min(len(ops), 128)]
		h := newHarness(t, ops[0])
		for i := 1; i < len(ops); {
			op := ops[i]
			arg := func(k int) int { // the k-th argument byte, 0 past the end
				if i+k < len(ops) {
					return int(ops[i+k])
				}
				return 0
			}
			switch op % 6 {
			case 0: // schedule a one-shot timer
				h.schedule(uint64(arg(1)+256*(arg(2)%4)), 0, op/6)
				i += 3
			case 1: // schedule a periodic timer
				h.schedule(uint64(1+arg(1)%32), uint64(1+arg(1)%32), op/6)
				i += 2
			case 2:
				h.stop(arg(1))
				i += 2
			case 3:
				h.reset(arg(1), uint64(arg(2)))
				i += 3
			case 4:
				h.advance(uint64(arg(1) % 100))
				i += 2
			case 5:
				h.advance(1)
				i++
			}
		}
		h.drain()
	})
}

// Actions a callback takes, chosen when its timer is scheduled.
const (
	actNone = iota
	actResetSelf
	actStopOther
)

type modelTimer struct {
	pending bool
	due     uint64
	seq     uint64 // scheduling order; ties on a tick fire in seq order
	period  uint64
	action  int
	arg     int // delay of actResetSelf, target of actStopOther
	budget  int // self resets left, so that a timer cannot fire forever
}

type harness struct {
	t      *testing.T
	w      *Wheel
	timers []*Timer
	model  []modelTimer
	now    uint64
	seq    uint64
	got    []event // what the wheel's callbacks did, in order
	want   []event // what the model did
}

// event is a firing, or the result of a Stop or Reset made by a callback.
type event struct {
	what string // "fire", "reset" or "stop"
	id   int
	tick uint64 // of a fire
	was  bool   // result of a reset or stop
}

func newHarness(t *testing.T, shape byte) *harness {
	slots, levels := 2<<(shape%4), 1+int(shape>>2)%3
	w, err := New(Config{Tick: tick, SlotsPerLevel: slots, Levels: levels})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, w: w}
}

func (h *harness) schedule(delay, period uint64, action byte) {
	id := len(h.model)
	m := modelTimer{pending: true, due: h.now + max(delay, 1), seq: h.next(), period: period, budget: 2}
	switch action % 3 {
	case 1:
		m.action, m.arg = actResetSelf, int(action/3)%8
	case 2:
		m.action, m.arg = actStopOther, int(action/3)%(id+1) // may be itself
	}
	h.model = append(h.model, m)
	fn := h.callback(id)
	if period > 0 {
		h.timers = append(h.timers, h.w.Every(time.Duration(period)*tick, fn))
	} else {
		h.timers = append(h.timers, h.w.Schedule(time.Duration(delay)*tick, fn))
	}
	h.checkLen()
}

// callback is what timer id does on the wheel; fireModel mirrors it.
func (h *harness) callback(id int) func() {
	budget := 2
	return func() {
		now := h.w.Now()
		h.got = append(h.got, event{what: "fire", id: id, tick: now})
		m := &h.model[id] // only action, arg: fixed at scheduling
		switch m.action {
		case actResetSelf:
			if budget > 0 {
				budget--
				was := h.timers[id].Reset(time.Duration(m.arg) * tick)
				h.got = append(h.got, event{what: "reset", id: id, was: was})
			}
		case actStopOther:
			was := h.timers[m.arg].Stop()
			h.got = append(h.got, event{what: "stop", id: m.arg, was: was})
		}
	}
}

func (h *harness) fireModel(id int) {
	m := &h.model[id]
	h.want = append(h.want, event{what: "fire", id: id, tick: h.now})
	if m.period > 0 {
		m.due, m.seq = m.due+m.period, h.next()
	} else {
		m.pending = false
	}
	switch m.action {
	case actResetSelf:
		if m.budget > 0 {
			m.budget--
			h.want = append(h.want, event{what: "reset", id: id, was: m.pending})
			m.pending, m.due, m.seq = true, h.now+max(uint64(m.arg), 1), h.next()
		}
	case actStopOther:
		o := &h.model[m.arg]
		h.want = append(h.want, event{what: "stop", id: m.arg, was: o.pending})
		o.pending = false
	}
}

func (h *harness) stop(arg int) {
	if len(h.timers) == 0 {
		return
	}
	id := arg % len(h.timers)
	if got, want := h.timers[id].Stop(), h.model[id].pending; got != want {
		h.t.Fatalf("Stop of timer %d at tick %d returned %v, model says %v", id, h.now, got, want)
	}
	h.model[id].pending = false
	h.checkLen()
}

func (h *harness) reset(arg int, delay uint64) {
	if len(h.timers) == 0 {
		return
	}
	id := arg % len(h.timers)
	if got, want := h.timers[id].Reset(time.Duration(delay)*tick), h.model[id].pending; got != want {
		h.t.Fatalf("Reset of timer %d at tick %d returned %v, model says %v", id, h.now, got, want)
	}
	m := &h.model[id]
	m.pending, m.due, m.seq = true, h.now+max(delay, 1), h.next()
	h.checkLen()
}

// advance moves the model tick by tick, firing on each tick the pending
// timer due then with the lowest seq until none is left, and the wheel in
// one call; both must have done the same.
func (h *harness) advance(ticks uint64) {
	target := h.now + ticks
	for h.now < target {
		h.now++
		for {
			id := -1
			for i, m := range h.model {
				if m.pending && m.due == h.now && (id < 0 || m.seq < h.model[id].seq) {
					id = i
				}
			}
			if id < 0 {
				break
			}
			h.fireModel(id)
		}
	}
	if _, err := h.w.AdvanceTo(target); err != nil {
		h.t.Fatal(err)
	}
	if !slices.Equal(h.got, h.want) {
		h.t.Fatalf("advancing to tick %d:\nwheel: %v\nmodel: %v", target, h.got, h.want)
	}
	if now := h.w.Now(); now != target {
		h.t.Fatalf("wheel at tick %d, want %d", now, target)
	}
	h.checkLen()
}

func (h *harness) checkLen() {
	checkWheel(h.t, h.w)
	n := 0
	for _, m := range h.model {
		if m.pending {
			n++
		}
	}
	if got := h.w.Len(); got != n {
		h.t.Fatalf("wheel has %d pending timers at tick %d, model %d", got, h.now, n)
	}
}

func (h *harness) next() uint64 { h.seq++; return h.seq }

// drain stops the periodic timers and advances until every one-shot timer
// has fired, including those that re-arm themselves (a bounded number of
// times).
func (h *harness) drain() {
	for id, m := range h.model {
		if m.period > 0 {
			h.stop(id)
		}
	}
	for {
		last := h.now
		for _, m := range h.model {
			if m.pending {
				last = max(last, m.due)
			}
		}
		if last == h.now {
			break
		}
		h.advance(last - h.now)
	}
	if n := h.w.Len(); n != 0 {
		h.t.Fatalf("%d timers pending after the last due tick", n)
	}
}
