package redis

import "sync"

// cursorsMax bounds the SCAN cursors a node remembers, and cursorBytesMax
// the bytes of the keys they hold; the oldest is forgotten first. A key
// may be as long as Config.MaxBulkBytes, so the count alone would let a
// client that scans long keys one at a time make the table hold
// cursorsMax of them.
const (
	cursorsMax     = 100_000
	cursorBytesMax = 64 << 20
)

// cursorTable maps SCAN's numeric cursors to the key the scan goes on
// from. Redis' cursors are numbers (clients parse them as such), and the
// keys of a range-sharded space cannot be numbered, so a cursor names an
// entry here: it is good on the node that issued it, until newer ones push
// it out (more than max of them, or more than bytesMax of keys). Cursor 0
// is the start, as in Redis.
type cursorTable struct {
	mu       sync.Mutex
	max      int // cursors remembered at most
	bytesMax int // bytes of keys remembered at most, unless one key alone is longer
	bytes    int // bytes of the keys remembered. Invariant: bytes <= bytesMax or len(keys) == 1.
	next     uint64
	keys     map[uint64][]byte
	order    []uint64 // the IDs of keys in issue order, oldest first
}

func newCursorTable(max, bytesMax int) *cursorTable {
	return &cursorTable{max: max, bytesMax: bytesMax, next: 1, keys: map[uint64][]byte{}}
}

// put remembers where a scan goes on and returns its cursor.
func (t *cursorTable) put(next []byte) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.next
	t.next++
	t.keys[id] = append([]byte(nil), next...)
	t.bytes += len(next)
	t.order = append(t.order, id)
	for len(t.order) > t.max || t.bytes > t.bytesMax && len(t.order) > 1 {
		old := t.order[0]
		t.bytes -= len(t.keys[old])
		delete(t.keys, old)
		t.order = t.order[1:] // append reallocates from the live part
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
