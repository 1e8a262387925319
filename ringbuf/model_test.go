package ringbuf

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// model is the ring's contract as a plain FIFO: claimed sequences are
// either published values or skips, the consumer takes a skip alone or the
// longest run of values that neither crosses the end of the slot array nor
// exceeds batchMax.
type model struct {
	capacity, batchMax int64
	consumed           int64
	queue              []modelEntry // sequences consumed, consumed+1, ...
	closed             bool
}

type modelEntry struct {
	v    uint64
	skip bool
}

func (m *model) claimed() int64 { return m.consumed + int64(len(m.queue)) }

func (m *model) fits(n int64) bool { return m.claimed()+n-m.capacity <= m.consumed }

// step returns the batch the consumer must hand over next and its
// end-of-batch flag, or ok=false when nothing is ready.
func (m *model) step() (batch []uint64, end, ok bool) {
	if len(m.queue) == 0 {
		return nil, false, false
	}
	if m.queue[0].skip {
		m.queue = m.queue[1:]
		m.consumed++
		return nil, false, true
	}
	limit := min(m.batchMax, m.capacity-m.consumed%m.capacity)
	n := int64(0)
	for n < limit && n < int64(len(m.queue)) && !m.queue[n].skip {
		batch = append(batch, m.queue[n].v)
		n++
	}
	end = n < limit || n == int64(len(m.queue)) || m.queue[n].skip
	m.queue = m.queue[n:]
	m.consumed += n
	return batch, end, true
}

// checkAgainstModel runs the operations coded by ops on a ring and on the
// model, in one goroutine that plays every producer and the consumer.
func checkAgainstModel(t *testing.T, capLog, batchMax uint8, ops []byte) {
	capacity := int64(1) << (capLog % 6)
	cfg := Config{Capacity: int(capacity), BatchMax: int(batchMax) % (int(capacity) + 1)}
	r, err := New[uint64](cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &model{capacity: capacity, batchMax: int64(cfg.BatchMax)}
	if m.batchMax == 0 {
		m.batchMax = capacity
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	var got []uint64
	var gotEnd bool
	handler := func(b []uint64, end bool) error {
		got = append(got, b...)
		gotEnd = end
		return nil
	}
	nextVal := uint64(1)
	values := func(n int64) []uint64 {
		vs := make([]uint64, n)
		for i := range vs {
			vs[i] = nextVal
			nextVal++
		}
		return vs
	}
	// publish applies one publish attempt to the model and checks the
	// ring's answer against it.
	publish := func(desc string, vs []uint64, try bool, err error) {
		t.Helper()
		n := int64(len(vs))
		var want error
		switch {
		case n > capacity:
			want = ErrBatchTooLarge
		case m.closed:
			want = ErrClosed
		case !m.fits(n) && try:
			want = ErrFull
		case !m.fits(n):
			want = context.Canceled
			for range n {
				m.queue = append(m.queue, modelEntry{skip: true})
			}
		default:
			for _, v := range vs {
				m.queue = append(m.queue, modelEntry{v: v})
			}
		}
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("%s of %d items: got %v, want %v (claimed %d consumed %d cap %d)",
				desc, n, err, want, m.claimed(), m.consumed, capacity)
		}
	}
	stepBoth := func() bool {
		t.Helper()
		want, wantEnd, wantOK := m.step()
		got = got[:0]
		ok, err := r.step(handler)
		if err != nil {
			t.Fatal(err)
		}
		if ok != wantOK || !slices.Equal(got, want) || (len(want) > 0 && gotEnd != wantEnd) {
			t.Fatalf("step: got %v end=%v ok=%v, want %v end=%v ok=%v", got, gotEnd, ok, want, wantEnd, wantOK)
		}
		return ok
	}

	for i := 0; i+1 < len(ops); i += 2 {
		op, arg := ops[i]%7, int64(ops[i+1])
		switch op {
		case 0:
			vs := values(1)
			publish("TryPublish", vs, true, r.TryPublish(vs[0]))
		case 1:
			vs := values(arg%(capacity+2) + 1)
			publish("TryPublishBatch", vs, true, r.TryPublishBatch(vs))
		case 2:
			vs := values(1)
			publish("Publish", vs, false, r.Publish(cancelled, vs[0]))
		case 3:
			vs := values(arg%(capacity+2) + 1)
			publish("PublishBatch", vs, false, r.PublishBatch(cancelled, vs))
		case 4, 5:
			for range arg%4 + 1 {
				stepBoth()
			}
		case 6:
			if arg%8 == 0 {
				r.Close()
				m.closed = true
			}
		}
		if want := int(min(m.claimed()-m.consumed, capacity)); r.Len() != want {
			t.Fatalf("Len %d, want %d", r.Len(), want)
		}
	}
	for stepBoth() {
	}
	if r.Len() != 0 || len(m.queue) != 0 {
		t.Fatalf("not drained: ring Len %d, model queue %d", r.Len(), len(m.queue))
	}
}

func FuzzRingAgainstModel(f *testing.F) {
	f.Add(uint8(1), uint8(0), []byte{0, 0, 0, 0, 0, 0, 4, 0, 2, 0, 2, 0, 5, 3})
	f.Add(uint8(2), uint8(3), []byte{1, 2, 3, 7, 0, 0, 2, 0, 4, 1, 6, 0, 0, 0, 5, 3})
	f.Add(uint8(3), uint8(2), []byte{1, 5, 2, 0, 3, 1, 4, 3, 1, 1, 5, 2, 0, 0, 4, 1})
	f.Add(uint8(0), uint8(1), []byte{0, 0, 2, 0, 2, 0, 4, 0, 4, 0, 4, 0, 6, 8, 0, 0})
	f.Fuzz(func(t *testing.T, capLog, batchMax uint8, ops []byte) {
		checkAgainstModel(t, capLog, batchMax, ops)
	})
}
