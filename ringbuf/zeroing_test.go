package ringbuf

import (
	"context"
	"testing"
)

// Handled items are zeroed in their slots and in the batch buffer, so a
// ring does not keep alive what its items pointed to.
func TestHandledItemsAreZeroed(t *testing.T) {
	r, err := New[*int](Config{Capacity: 8, BatchMax: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		v := i
		if err := r.Publish(context.Background(), &v); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	h := func(b []*int, _ bool) error {
		for _, p := range b {
			if p == nil || *p != seen {
				t.Fatalf("item %d is %v", seen, p)
			}
			seen++
		}
		return nil
	}
	for {
		progressed, err := r.step(h)
		if err != nil {
			t.Fatal(err)
		}
		if !progressed {
			break
		}
	}
	if seen != 6 {
		t.Fatalf("handled %d items, want 6", seen)
	}
	for i := range r.cells {
		if r.cells[i].val != nil {
			t.Errorf("slot %d still holds %d", i, *r.cells[i].val)
		}
	}
	for i, p := range r.batch {
		if p != nil {
			t.Errorf("batch buffer %d still holds %d", i, *p)
		}
	}
}
