package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Queries read a group's keys without entering the log.
//
//	get     1 | key                                  -> the value, or fsm.ErrNotFound
//	scan    2 | uvarint len(start) | start | uvarint len(end) | end | uvarint limit
//	          -> more (0 or 1) | uvarint n | n × (uvarint len(k) | k | uvarint len(v) | v)
//	          keys in [start, end) in order (an empty end: to the last key), at
//	          most limit of them; more is 1 when the range holds more.
//	mget    3 | keys                                 -> uvarint n | n × value
//	          value: 0 (absent) or 1 | uvarint len(v) | v
//	exists  4 | keys                                 -> uvarint how many are present
//	strlen  5 | key                                  -> uvarint len(value), 0 if absent
//	dbsize  6                                        -> uvarint how many keys the group holds
//	keys    7 | uvarint len(start) | start | uvarint len(end) | end | uvarint count | pattern
//	          -> more (0 or 1) | uvarint n | n × (uvarint len(k) | k) | with more: next
//	          Redis' SCAN: see scanKeys.
//
// where keys is uvarint n | n × (uvarint len(k) | k), and a trailing key,
// pattern or next is the rest of the bytes. A query that reads several keys
// reads them all as of one commit, as Redis' MGET is atomic.
const (
	queryGet      = 1
	queryScan     = 2
	queryMGet     = 3
	queryExists   = 4
	queryStrlen   = 5
	queryDBSize   = 6
	queryScanKeys = 7
)

// EncodeGet appends a query for key's value.
func EncodeGet(dst, key []byte) []byte { return append(append(dst, queryGet), key...) }

// EncodeScan appends a query for at most limit keys in [start, end).
func EncodeScan(dst, start, end []byte, limit int) []byte {
	dst = appendKey(appendKey(append(dst, queryScan), start), end)
	return binary.AppendUvarint(dst, uint64(limit))
}

// EncodeMGet appends Redis' MGET: each key's value or its absence
// (DecodeMGetResult).
func EncodeMGet(dst []byte, keys ...[]byte) []byte {
	return appendKeyList(append(dst, queryMGet), keys)
}

// EncodeExists appends Redis' EXISTS: how many of keys are present, a key
// named twice counting twice (DecodeCountResult).
func EncodeExists(dst []byte, keys ...[]byte) []byte {
	return appendKeyList(append(dst, queryExists), keys)
}

// EncodeStrlen appends Redis' STRLEN: the length of key's value, 0 when
// it is absent (DecodeCountResult).
func EncodeStrlen(dst, key []byte) []byte { return append(append(dst, queryStrlen), key...) }

// EncodeDBSize appends Redis' DBSIZE for the group: how many keys it holds
// (DecodeCountResult). It reads every key of the group: see dbSize.
func EncodeDBSize(dst []byte) []byte { return append(dst, queryDBSize) }

// EncodeScanKeys appends one call of Redis' SCAN within [start, end) (an
// empty end: to the group's last key): at most count keys from start on
// that match pattern, a glob as SCAN's MATCH reads it ("*" for SCAN
// without MATCH; an empty pattern matches only the empty key). A count
// below 1 is refused. DecodeScanKeysResult reads the keys and where the
// next call starts.
func EncodeScanKeys(dst, start, end []byte, count int, pattern []byte) []byte {
	dst = appendKey(appendKey(append(dst, queryScanKeys), start), end)
	dst = binary.AppendUvarint(dst, uint64(max(count, 0)))
	return append(dst, pattern...)
}

func appendKeyList(dst []byte, keys [][]byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = appendKey(dst, k)
	}
	return dst
}

// readKeyList reads keys that are all of b.
func readKeyList(b []byte) ([][]byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, errors.New("bad key count")
	}
	if n > uint64(len(b)-w) { // each key takes at least its length byte
		return nil, fmt.Errorf("%d keys in %d bytes", n, len(b)-w)
	}
	rest := b[w:]
	keys := make([][]byte, n)
	for i := range keys {
		var err error
		if keys[i], rest, err = readBytes(rest); err != nil {
			return nil, fmt.Errorf("key %d: %v", i, err)
		}
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes after the keys", len(rest))
	}
	return keys, nil
}

// KeyValue is one pair of a scan's result.
type KeyValue struct{ Key, Value []byte }

// DecodeScanResult reads what a scan query returned: the pairs, and
// whether the range holds more beyond them.
func DecodeScanResult(b []byte) (pairs []KeyValue, more bool, err error) {
	bad := func(format string, args ...any) ([]KeyValue, bool, error) {
		return nil, false, fmt.Errorf("kv: bad scan result: %s", fmt.Sprintf(format, args...))
	}
	if len(b) == 0 || b[0] > 1 {
		return bad("no more flag")
	}
	more = b[0] == 1
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n > uint64(len(b)) {
		return bad("bad count")
	}
	rest := b[1+w:]
	for i := range n {
		var kv KeyValue
		if kv.Key, rest, err = readBytes(rest); err != nil {
			return bad("pair %d key: %v", i, err)
		}
		if kv.Value, rest, err = readBytes(rest); err != nil {
			return bad("pair %d value: %v", i, err)
		}
		pairs = append(pairs, kv)
	}
	if len(rest) != 0 {
		return bad("%d bytes after the pairs", len(rest))
	}
	return pairs, more, nil
}

// DecodeMGetResult reads an mget's values, one per key asked for in
// order: nil for an absent key, never nil for a present one (an empty
// value is empty, not nil).
func DecodeMGetResult(b []byte) ([][]byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) { // each value takes at least its flag
		return nil, errors.New("kv: bad mget result: bad count")
	}
	rest := b[w:]
	vals := make([][]byte, n)
	for i := range vals {
		if len(rest) == 0 {
			return nil, fmt.Errorf("kv: bad mget result: value %d missing", i)
		}
		flag := rest[0]
		rest = rest[1:]
		switch flag {
		case 0:
			continue
		case 1:
			v, r, err := readBytes(rest)
			if err != nil {
				return nil, fmt.Errorf("kv: bad mget result: value %d: %v", i, err)
			}
			vals[i], rest = v, r // a subslice of b: never nil
		default:
			return nil, fmt.Errorf("kv: bad mget result: value %d flag %d", i, flag)
		}
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("kv: bad mget result: %d bytes after the values", len(rest))
	}
	return vals, nil
}

// DecodeCountResult reads the number an exists, strlen or dbsize returned.
func DecodeCountResult(b []byte) (uint64, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || w != len(b) {
		return 0, fmt.Errorf("kv: bad count result %x", b)
	}
	return n, nil
}

// DecodeScanKeysResult reads one call of a keys scan: the keys that
// matched, and, when more is true, the key the next call starts from
// (the scan is complete when more is false, Redis' cursor 0).
func DecodeScanKeysResult(b []byte) (keys [][]byte, next []byte, more bool, err error) {
	bad := func(format string, args ...any) ([][]byte, []byte, bool, error) {
		return nil, nil, false, fmt.Errorf("kv: bad keys scan result: %s", fmt.Sprintf(format, args...))
	}
	if len(b) == 0 || b[0] > 1 {
		return bad("no more flag")
	}
	more = b[0] == 1
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n > uint64(len(b)-1-w) {
		return bad("bad count")
	}
	rest := b[1+w:]
	keys = make([][]byte, n)
	for i := range keys {
		if keys[i], rest, err = readBytes(rest); err != nil {
			return bad("key %d: %v", i, err)
		}
	}
	if !more && len(rest) != 0 {
		return bad("%d bytes after the keys of a complete scan", len(rest))
	}
	if more {
		next = rest
	}
	return keys, next, more, nil
}
