package kv

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// The commands a Redis service needs beyond put: DEL of many keys, SET
// with its options, INCRBY. Each reads through the open batch b, so it
// sees the writes of the entries before it in the same drain, committed
// or not. m.key holds the storage key of c.key.

func (m *Machine) applyDelete(b *pebble.Batch, c command, dst []byte) ([]byte, error) {
	var existed uint64
	for i := -1; i < len(c.more); i++ {
		if i >= 0 {
			m.key = dataKey(m.key[:0], m.group, c.more[i])
		}
		found, err := m.has(b, m.key)
		if err != nil {
			return nil, err
		}
		if !found {
			continue // a key named twice: the batch already holds its delete
		}
		existed++
		if err := b.Delete(m.key, nil); err != nil {
			return nil, err
		}
	}
	return appendDeleteResult(dst, existed), nil
}

func (m *Machine) applySet(b *pebble.Batch, c command, dst []byte) ([]byte, error) {
	if c.flags == 0 {
		// Nothing depends on the old value, so a plain SET costs what a
		// put costs: no read.
		return appendSetResult(dst, c.flags, true, nil, false), b.Set(m.key, c.value, nil)
	}
	var old []byte
	var found bool
	var err error
	if c.flags&SetGet != 0 {
		old, found, err = m.get(b, m.key)
	} else {
		found, err = m.has(b, m.key)
	}
	if err != nil {
		return nil, err
	}
	written := !(c.flags&SetNX != 0 && found || c.flags&SetXX != 0 && !found)
	if written {
		if err := b.Set(m.key, c.value, nil); err != nil {
			return nil, err
		}
	}
	return appendSetResult(dst, c.flags, written, old, found), nil
}

// applyIncrBy keeps the value as Redis does, a base-10 string, so GET and
// SET see the number as text; an absent key counts as 0.
func (m *Machine) applyIncrBy(b *pebble.Batch, c command, dst []byte) ([]byte, error) {
	cur, found, err := m.get(b, m.key)
	if err != nil {
		return nil, err
	}
	var n int64
	if found {
		var ok bool
		if n, ok = parseRedisInt(cur); !ok {
			return append(dst, StatusNotInteger), nil
		}
	}
	// Redis' own test (incrDecrCommand), before the sum can wrap.
	if c.delta > 0 && n > math.MaxInt64-c.delta || c.delta < 0 && n < math.MinInt64-c.delta {
		return append(dst, StatusOverflow), nil
	}
	n += c.delta
	var buf [20]byte
	return appendIncrByResult(dst, n), b.Set(m.key, strconv.AppendInt(buf[:0], n, 10), nil)
}

// parseRedisInt parses v as Redis' string2ll does, which accepts exactly
// the decimal form strconv.FormatInt writes: no '+', no space, no leading
// zero but in "0", no "-0", within int64. ParseInt alone accepts "+1",
// "01" and "-0", so the form is checked by writing the number back.
func parseRedisInt(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, false
	}
	var buf [20]byte
	return n, string(strconv.AppendInt(buf[:0], n, 10)) == string(v)
}

// has reports whether key is present through b, without copying its value.
func (m *Machine) has(b *pebble.Batch, key []byte) (bool, error) {
	_, closer, err := b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("kv: group %d: read: %w", m.group, err)
	}
	return true, closer.Close()
}
