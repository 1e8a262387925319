package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The queries a Redis service needs beyond get and scan: MGET, EXISTS,
// STRLEN, DBSIZE (SCAN's is scanKeys). They run on the caller's goroutine,
// beside the apply stage, so they keep to locals, never m.key.

func (m *Machine) mget(q []byte) ([]byte, error) {
	keys, err := readKeyList(q)
	if err != nil {
		return nil, fmt.Errorf("%w: mget: %v", ErrBadCommand, err)
	}
	res := binary.AppendUvarint(nil, uint64(len(keys)))
	err = m.readKeys(keys, true, func(v []byte, found bool) {
		if !found {
			res = append(res, 0)
			return
		}
		res = appendKey(append(res, 1), v)
	})
	return res, err
}

func (m *Machine) exists(q []byte) ([]byte, error) {
	keys, err := readKeyList(q)
	if err != nil {
		return nil, fmt.Errorf("%w: exists: %v", ErrBadCommand, err)
	}
	var n uint64
	err = m.readKeys(keys, false, func(_ []byte, found bool) {
		if found {
			n++
		}
	})
	return binary.AppendUvarint(nil, n), err
}

// readKeys calls fn with each key's value (when values is true) and
// whether it is present, in order. One iterator reads them all, so they are
// as of one commit even while the apply stage commits; v is valid only
// during fn.
func (m *Machine) readKeys(keys [][]byte, values bool, fn func(v []byte, found bool)) error {
	lo, hi := dataSpan(m.group, nil, nil)
	it, err := m.s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("kv: group %d: read keys: %w", m.group, err)
	}
	defer it.Close()
	var dk []byte
	for _, k := range keys {
		dk = dataKey(dk[:0], m.group, k)
		// A prefix seek consults the tables' bloom filters, as a Get
		// does, so an absent key costs no data block; the comparison
		// keeps the answer right whatever the comparer takes as a prefix.
		found := it.SeekPrefixGE(dk) && bytes.Equal(it.Key(), dk)
		var v []byte
		if found && values {
			if v, err = it.ValueAndErr(); err != nil {
				return fmt.Errorf("kv: group %d: read keys: %w", m.group, err)
			}
		}
		fn(v, found)
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("kv: group %d: read keys: %w", m.group, err)
	}
	return nil
}

func (m *Machine) strlen(key []byte) ([]byte, error) {
	v, closer, err := m.s.db.Get(dataKey(nil, m.group, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return binary.AppendUvarint(nil, 0), nil
	}
	if err != nil {
		return nil, fmt.Errorf("kv: group %d: strlen: %w", m.group, err)
	}
	defer closer.Close()
	return binary.AppendUvarint(nil, uint64(len(v))), nil
}

// dbSize counts the group's keys with one iterator over its span that
// reads keys and never a value: O(keys in the group) per call, a read of
// every block of the span, where Redis' DBSIZE is O(1). Regions split
// before they grow large, which bounds it, but it is not for a hot path.
//
// No cheap exact count was found. A counter beside the data would have to
// know at every put whether the key is new, a read on every write, which
// a put does not pay now. Pebble's table properties (entry and deletion
// counts) count overwritten versions and tombstones not yet compacted
// away, so they give an estimate, not the number.
func (m *Machine) dbSize() ([]byte, error) {
	lo, hi := dataSpan(m.group, nil, nil)
	it, err := m.s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("kv: group %d: dbsize: %w", m.group, err)
	}
	defer it.Close()
	var n uint64
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("kv: group %d: dbsize: %w", m.group, err)
	}
	return binary.AppendUvarint(nil, n), nil
}
