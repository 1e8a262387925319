package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Commands change a group's keys; each is one Raft entry. Put and Delete
// are encoded as fsm.EncodePut and fsm.EncodeDelete encode them, so a
// client of the in-memory machine speaks to this one unchanged.
//
//	put     1 | uvarint len(key) | key | value
//	delete  2 | uvarint len(key) | key
//	cas     3 | uvarint len(key) | key | expect | set
//	          expect: 0 (key absent) or 1 | uvarint len(v) | v
//	          set:    0 (delete) or 1 | value (the rest)
//	batch   4 | uvarint n | n × (uvarint len(cmd) | cmd), no batch inside
const (
	opPut    = 1
	opDelete = 2
	opCAS    = 3
	opBatch  = 4
)

// Results start with a status byte.
const (
	// StatusOK: applied. A delete's result has a second byte, 1 if the
	// key existed; a batch's is followed by each command's result, each
	// as uvarint length and bytes.
	StatusOK = 0
	// StatusBadCommand: not applied, the command could not be decoded; the
	// rest of the result says why.
	StatusBadCommand = 1
	// StatusCompareFailed: a compare-and-set found another value: the rest
	// is 0 (the key is absent) or 1 and the value it holds.
	StatusCompareFailed = 2
)

// ErrBadCommand wraps every decoding error of a command or a query.
var ErrBadCommand = errors.New("kv: bad command")

// EncodePut appends a command that sets key to value.
func EncodePut(dst, key, value []byte) []byte {
	dst = appendKey(append(dst, opPut), key)
	return append(dst, value...)
}

// EncodeDelete appends a command that removes key.
func EncodeDelete(dst, key []byte) []byte { return appendKey(append(dst, opDelete), key) }

// EncodeCAS appends a command that sets key to value (or deletes it, when
// value is nil) if key holds expect now (or is absent, when expect is nil).
func EncodeCAS(dst, key, expect, value []byte) []byte {
	dst = appendKey(append(dst, opCAS), key)
	if expect == nil {
		dst = append(dst, 0)
	} else {
		dst = appendKey(append(dst, 1), expect)
	}
	if value == nil {
		return append(dst, 0)
	}
	return append(append(dst, 1), value...)
}

// EncodeBatch appends a command that applies cmds in order, as one entry;
// each gets its own result.
func EncodeBatch(dst []byte, cmds ...[]byte) []byte {
	dst = binary.AppendUvarint(append(dst, opBatch), uint64(len(cmds)))
	for _, c := range cmds {
		dst = appendKey(dst, c)
	}
	return dst
}

func appendKey(dst, k []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(k)))
	return append(dst, k...)
}

// command is one decoded command; its slices alias the encoded bytes.
type command struct {
	op     byte
	key    []byte
	value  []byte // put, and cas with set
	hasExp bool   // cas: a value is expected (else the key must be absent)
	expect []byte
	del    bool      // cas: delete on success
	subs   []command // batch
}

// decodeCommand decodes b; nested says whether b sits inside a batch.
func decodeCommand(b []byte, nested bool) (command, error) {
	bad := func(format string, args ...any) (command, error) {
		return command{}, fmt.Errorf("%w: %s", ErrBadCommand, fmt.Sprintf(format, args...))
	}
	if len(b) == 0 {
		return bad("empty")
	}
	c := command{op: b[0]}
	rest := b[1:]
	var err error
	switch c.op {
	case opPut, opDelete, opCAS:
		if c.key, rest, err = readBytes(rest); err != nil {
			return bad("key: %v", err)
		}
	case opBatch:
		if nested {
			return bad("a batch inside a batch")
		}
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)) {
			return bad("batch: bad count")
		}
		rest = rest[w:]
		c.subs = make([]command, 0, n)
		for i := range n {
			var sub []byte
			if sub, rest, err = readBytes(rest); err != nil {
				return bad("batch command %d: %v", i, err)
			}
			sc, err := decodeCommand(sub, true)
			if err != nil {
				return bad("batch command %d: %v", i, err)
			}
			c.subs = append(c.subs, sc)
		}
		if len(rest) != 0 {
			return bad("%d bytes after the batch's commands", len(rest))
		}
		return c, nil
	default:
		return bad("unknown opcode %d", c.op)
	}
	switch c.op {
	case opPut:
		c.value = rest
	case opDelete:
		if len(rest) != 0 {
			return bad("%d bytes after a delete's key", len(rest))
		}
	case opCAS:
		if len(rest) == 0 {
			return bad("compare-and-set without its expectation")
		}
		switch rest[0] {
		case 0:
			rest = rest[1:]
		case 1:
			c.hasExp = true
			if c.expect, rest, err = readBytes(rest[1:]); err != nil {
				return bad("compare-and-set expectation: %v", err)
			}
		default:
			return bad("compare-and-set expectation flag %d", rest[0])
		}
		if len(rest) == 0 {
			return bad("compare-and-set without its new value")
		}
		switch rest[0] {
		case 0:
			if len(rest) != 1 {
				return bad("%d bytes after a compare-and-delete", len(rest)-1)
			}
			c.del = true
		case 1:
			c.value = rest[1:]
		default:
			return bad("compare-and-set value flag %d", rest[0])
		}
	}
	return c, nil
}

// readBytes reads a uvarint length and that many bytes.
func readBytes(b []byte) (v, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, nil, errors.New("bad length")
	}
	if n > uint64(len(b)-w) {
		return nil, nil, fmt.Errorf("length %d beyond the %d bytes left", n, len(b)-w)
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

// Queries read a group's keys without entering the log.
//
//	get   1 | key                                  -> the value, or fsm.ErrNotFound
//	scan  2 | uvarint len(start) | start | uvarint len(end) | end | uvarint limit
//	        -> more (0 or 1) | uvarint n | n × (uvarint len(k) | k | uvarint len(v) | v)
//	        keys in [start, end) in order (an empty end: to the last key), at
//	        most limit of them; more is 1 when the range holds more.
const (
	queryGet  = 1
	queryScan = 2
)

// EncodeGet appends a query for key's value.
func EncodeGet(dst, key []byte) []byte { return append(append(dst, queryGet), key...) }

// EncodeScan appends a query for at most limit keys in [start, end).
func EncodeScan(dst, start, end []byte, limit int) []byte {
	dst = appendKey(appendKey(append(dst, queryScan), start), end)
	return binary.AppendUvarint(dst, uint64(limit))
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
