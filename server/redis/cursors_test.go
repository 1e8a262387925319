package redis

import (
	"bytes"
	"fmt"
	"testing"
)

func TestCursorTableEviction(t *testing.T) {
	for _, tc := range []struct {
		name          string
		max, bytesMax int
		puts          []int // the lengths of the keys put, in order
		want          []int // which puts (by index) are remembered at the end
	}{
		{"under both bounds", 3, 100, []int{1, 2, 3}, []int{0, 1, 2}},
		{"count evicts the oldest", 3, 100, []int{1, 1, 1, 1, 1}, []int{2, 3, 4}},
		{"bytes evict the oldest", 10, 10, []int{4, 4, 4}, []int{1, 2}},
		{"bytes evict as many as needed", 10, 10, []int{3, 3, 3, 9}, []int{3}},
		{"a key over the byte bound is kept alone", 10, 10, []int{2, 2, 50}, []int{2}},
		{"and pushed out by the next", 10, 10, []int{50, 1}, []int{1}},
		{"empty keys cost no bytes", 4, 1, []int{0, 0, 0, 0, 0}, []int{1, 2, 3, 4}},
		{"one cursor", 1, 100, []int{1, 2, 3}, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newCursorTable(tc.max, tc.bytesMax)
			ids := make([]uint64, len(tc.puts))
			for i, n := range tc.puts {
				ids[i] = tab.put(bytes.Repeat([]byte{byte('a' + i)}, n))
				if ids[i] == 0 {
					t.Fatalf("put %d returned cursor 0, which means the start", i)
				}
				if i > 0 && ids[i] <= ids[i-1] {
					t.Fatalf("cursor %d after %d", ids[i], ids[i-1])
				}
			}
			kept := map[int]bool{}
			for _, i := range tc.want {
				kept[i] = true
			}
			for i, id := range ids {
				k, ok := tab.get(id)
				if ok != kept[i] {
					t.Errorf("put %d (cursor %d, %d bytes): remembered %t, want %t", i, id, tc.puts[i], ok, kept[i])
				}
				if ok && !bytes.Equal(k, bytes.Repeat([]byte{byte('a' + i)}, tc.puts[i])) {
					t.Errorf("cursor %d: key %q", id, k)
				}
			}
			if k, ok := tab.get(0); !ok || k != nil {
				t.Errorf("cursor 0: %q, %t; want the start", k, ok)
			}
		})
	}
}

// TestCursorTableCopiesKeys checks that put keeps its own copy: SCAN's
// next key aliases a result buffer that is reused.
func TestCursorTableCopiesKeys(t *testing.T) {
	tab := newCursorTable(10, 100)
	key := []byte("abc")
	id := tab.put(key)
	copy(key, "xyz")
	if k, _ := tab.get(id); string(k) != "abc" {
		t.Errorf("the table's key changed with the caller's buffer: %q", k)
	}
}

// FuzzCursorTable drives a table with puts and gets and checks it against
// a plain model: the newest cursors whose keys fit in the byte bound (the
// newest always), at most max of them.
func FuzzCursorTable(f *testing.F) {
	f.Add(uint8(3), uint8(10), []byte{1, 2, 3, 4, 0x85, 0x81, 9, 9, 9})
	f.Add(uint8(1), uint8(1), []byte{0, 0, 5, 0x80})
	f.Add(uint8(8), uint8(255), bytes.Repeat([]byte{7, 0x83}, 40))
	f.Fuzz(func(t *testing.T, max, bytesMax uint8, ops []byte) {
		if max == 0 {
			max = 1
		}
		tab := newCursorTable(int(max), int(bytesMax))
		type entry struct {
			id  uint64
			key []byte
		}
		var model []entry // remembered, oldest first
		var issued []uint64
		for i, op := range ops {
			if op&0x80 == 0 { // put a key of op bytes
				key := bytes.Repeat([]byte{byte(i)}, int(op))
				id := tab.put(key)
				if n := len(issued); id == 0 || n > 0 && id <= issued[n-1] {
					t.Fatalf("op %d: cursor %d after %v", i, id, issued)
				}
				issued = append(issued, id)
				model = append(model, entry{id, key})
				total := 0
				for _, e := range model {
					total += len(e.key)
				}
				for len(model) > int(max) || total > int(bytesMax) && len(model) > 1 {
					total -= len(model[0].key)
					model = model[1:]
				}
				continue
			}
			// get a cursor issued some puts ago (or one never issued)
			back := int(op & 0x7f)
			var id uint64
			if back < len(issued) {
				id = issued[len(issued)-1-back]
			} else {
				id = uint64(len(issued) + back + 1)
			}
			var want []byte
			found := false
			for _, e := range model {
				if e.id == id {
					want, found = e.key, true
				}
			}
			got, ok := tab.get(id)
			if ok != found || !bytes.Equal(got, want) {
				t.Fatalf("op %d: get(%d) = %q, %t; the model says %q, %t", i, id, got, ok, want, found)
			}
		}
		tab.mu.Lock()
		defer tab.mu.Unlock()
		if len(tab.keys) != len(model) || len(tab.order) != len(model) {
			t.Fatalf("the table holds %d keys in order %v, the model %d", len(tab.keys), tab.order, len(model))
		}
		total := 0
		for _, e := range model {
			total += len(e.key)
		}
		if tab.bytes != total {
			t.Fatalf("the table counts %d bytes, it holds %d", tab.bytes, total)
		}
		if tab.bytes > int(bytesMax) && len(model) > 1 {
			panic(fmt.Sprintf("%d bytes in %d keys over the bound %d", tab.bytes, len(model), bytesMax))
		}
	})
}
