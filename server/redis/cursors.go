package redis

import "sync"

// cursorsMax bounds the SCAN cursors a node remembers; the oldest is
// forgotten first.
const cursorsMax = 100_000

// cursorTable maps SCAN's numeric cursors to the key the scan goes on
// from. Redis' cursors are numbers (clients parse them as such), and the
// keys of a range-sharded space cannot be numbered, so a cursor names an
// entry here: it is good on the node that issued it, until cursorsMax
// newer ones push it out. Cursor 0 is the start, as in Redis.
type cursorTable struct {
	mu    sync.Mutex
	max   int
	next  uint64
	keys  map[uint64][]byte
	order []uint64 // issue order, oldest first, for eviction
}

func newCursorTable(max int) *cursorTable {
	return &cursorTable{max: max, next: 1, keys: map[uint64][]byte{}}
}

// put remembers where a scan goes on and returns its cursor.
func (t *cursorTable) put(next []byte) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.next
	t.next++
	t.keys[id] = append([]byte(nil), next...)
	t.order = append(t.order, id)
	for len(t.keys) > t.max {
		delete(t.keys, t.order[0])
		t.order = t.order[1:]
	}
	if len(t.order) > 2*t.max { // keep the slice from growing without bound
		t.order = append([]uint64(nil), t.order...)
	}
	return id
}

// get returns where the scan of cursor goes on; cursor 0 starts at the
// first key.
func (t *cursorTable) get(cursor uint64) ([]byte, bool) {
	if cursor == 0 {
		return nil, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.keys[cursor]
	return k, ok
}
