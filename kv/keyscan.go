package kv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// scanKeysExaminedPerCount bounds the work of one call of a keys scan: it
// looks at no more than this many keys per key it may return. Redis' SCAN
// counts COUNT as work, not as keys returned, so a MATCH that few keys
// pass returns few keys, or none, with a cursor to go on from; so does
// this one, and a filter cannot turn one call into a walk of the whole
// group.
const scanKeysExaminedPerCount = 10

// scanKeys answers one call of Redis' SCAN over the group's keys, in key
// order from start: at most count keys matching the pattern, having
// looked at no more than scanKeysExaminedPerCount×count keys. The next
// call starts at the first key this one did not look at, so a scan from
// the empty key until more is false returns every key present throughout
// and no key twice, however the calls are cut (Redis' SCAN may repeat a
// key; this one cannot, as keys only go up).
func (m *Machine) scanKeys(q []byte) ([]byte, error) {
	start, end, count, pattern, err := decodeScanKeysQuery(q)
	if err != nil {
		return nil, err
	}
	all := string(pattern) == "*" // as Redis, which then skips the match

	lo, hi := dataSpan(m.group, start, end)
	if prefix := literalPrefix(pattern); len(prefix) > 0 {
		lo, hi = narrowToPrefix(lo, hi, m.group, prefix)
	}
	if bytes.Compare(lo, hi) >= 0 {
		return []byte{0, 0}, nil // complete, no key
	}
	examinedMax := uint64(math.MaxUint64)
	if count <= math.MaxUint64/scanKeysExaminedPerCount {
		examinedMax = count * scanKeysExaminedPerCount
	}

	it, err := m.s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("kv: group %d: keys scan: %w", m.group, err)
	}
	defer it.Close()
	var body []byte
	n, examined := uint64(0), uint64(0)
	ok := it.First()
	for ; ok && n < count && examined < examinedMax; ok = it.Next() {
		examined++
		if k := userKey(it.Key()); all || matchGlob(pattern, k) {
			body = appendKey(body, k)
			n++
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("kv: group %d: keys scan: %w", m.group, err)
	}
	res := binary.AppendUvarint([]byte{boolByte(ok)}, n)
	res = append(res, body...)
	if ok {
		res = append(res, userKey(it.Key())...)
	}
	return res, nil
}

func decodeScanKeysQuery(q []byte) (start, end []byte, count uint64, pattern []byte, err error) {
	if start, q, err = readBytes(q); err != nil {
		return nil, nil, 0, nil, badCommand("keys scan start: %v", err)
	}
	if end, q, err = readBytes(q); err != nil {
		return nil, nil, 0, nil, badCommand("keys scan end: %v", err)
	}
	count, w := binary.Uvarint(q)
	if w <= 0 {
		return nil, nil, 0, nil, badCommand("keys scan count")
	}
	if count == 0 {
		return nil, nil, 0, nil, badCommand("keys scan count 0")
	}
	return start, end, count, q[w:], nil
}

// narrowToPrefix cuts the storage span [lo, hi) to the keys of group
// that start with prefix.
func narrowToPrefix(lo, hi []byte, group uint64, prefix []byte) ([]byte, []byte) {
	if p := dataKey(nil, group, prefix); bytes.Compare(p, lo) > 0 {
		lo = p
	}
	if succ := prefixSuccessor(prefix); succ != nil {
		if p := dataKey(nil, group, succ); bytes.Compare(p, hi) < 0 {
			hi = p
		}
	}
	return lo, hi
}

// prefixSuccessor is the least key above every key starting with prefix,
// nil if there is none (prefix is all 0xff).
func prefixSuccessor(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			return append(bytes.Clone(prefix[:i]), prefix[i]+1)
		}
	}
	return nil
}
