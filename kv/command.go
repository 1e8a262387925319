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
//	delete  2 | uvarint len(key) | key | more keys, each uvarint len(k) | k
//	cas     3 | uvarint len(key) | key | expect | set
//	          expect: 0 (key absent) or 1 | uvarint len(v) | v
//	          set:    0 (delete) or 1 | value (the rest)
//	batch   4 | uvarint n | n × (uvarint len(cmd) | cmd), no batch inside
//	set     5 | uvarint len(key) | key | flags | value (the rest)
//	          flags: SetNX, SetXX (not both), SetGet
//	incrby  6 | uvarint len(key) | key | varint delta
//
// A delete of one key is the delete written before more keys were allowed,
// and its result is the same, so logs written then still apply as they did.
// MSET is a batch of puts: one entry, applied in one Pebble batch, so no
// reader sees part of it.
const (
	opPut    = 1
	opDelete = 2
	opCAS    = 3
	opBatch  = 4
	opSet    = 5
	opIncrBy = 6
)

// Results start with a status byte; result.go decodes them.
const (
	// StatusOK: applied. A delete's result is followed by the uvarint
	// number of its keys that existed (a byte 0 or 1 for one key); a
	// batch's by each command's result, each as uvarint length and bytes;
	// a set's and an incrby's as DecodeSetResult and DecodeIncrByResult
	// read them.
	StatusOK = 0
	// StatusBadCommand: not applied, the command could not be decoded; the
	// rest of the result says why.
	StatusBadCommand = 1
	// StatusCompareFailed: a compare-and-set found another value: the rest
	// is 0 (the key is absent) or 1 and the value it holds.
	StatusCompareFailed = 2
	// StatusNotInteger: an incrby found a value that is not a base-10
	// int64 in Redis' form (ErrNotInteger); nothing changed.
	StatusNotInteger = 3
	// StatusOverflow: an incrby's sum does not fit in an int64
	// (ErrOverflow); nothing changed.
	StatusOverflow = 4
)

// Flags of a set, as Redis' SET options: SETNX is SetNX, GETSET is SetGet.
const (
	SetNX  = 1 << 0 // write only if the key is absent
	SetXX  = 1 << 1 // write only if the key is present
	SetGet = 1 << 2 // return the value the key held before
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

// EncodeDeleteKeys appends a command that removes every key of keys, as
// Redis' DEL: its result counts those that existed, a key named twice
// counting once. EncodeDeleteKeys(dst, k) is EncodeDelete(dst, k); with no
// key at all the command is refused as bad (StatusBadCommand).
func EncodeDeleteKeys(dst []byte, keys ...[]byte) []byte {
	dst = append(dst, opDelete)
	for _, k := range keys {
		dst = appendKey(dst, k)
	}
	return dst
}

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

// EncodeSet appends Redis' SET key value with flags (SetNX, SetXX,
// SetGet; SetNX|SetXX is refused when applied, as Redis refuses it).
func EncodeSet(dst, key, value []byte, flags byte) []byte {
	dst = appendKey(append(dst, opSet), key)
	return append(append(dst, flags), value...)
}

// EncodeIncrBy appends Redis' INCRBY key delta (INCR is delta 1, DECRBY
// d is delta -d: Redis refuses DECRBY of math.MinInt64 before it gets
// here, with "decrement would overflow").
func EncodeIncrBy(dst, key []byte, delta int64) []byte {
	dst = appendKey(append(dst, opIncrBy), key)
	return binary.AppendVarint(dst, delta)
}

func appendKey(dst, k []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(k)))
	return append(dst, k...)
}

// command is one decoded command; its slices alias the encoded bytes.
type command struct {
	op     byte
	key    []byte
	value  []byte // put, set, and cas with set
	hasExp bool   // cas: a value is expected (else the key must be absent)
	expect []byte
	del    bool      // cas: delete on success
	subs   []command // batch
	more   [][]byte  // delete: the keys after key
	flags  byte      // set
	delta  int64     // incrby
}

// decodeCommand decodes b; nested says whether b sits inside a batch.
func decodeCommand(b []byte, nested bool) (command, error) {
	bad := func(format string, args ...any) (command, error) { return command{}, badCommand(format, args...) }
	if len(b) == 0 {
		return bad("empty")
	}
	c := command{op: b[0]}
	rest := b[1:]
	var err error
	switch c.op {
	case opPut, opDelete, opCAS, opSet, opIncrBy:
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
		for i := 1; len(rest) != 0; i++ {
			var k []byte
			if k, rest, err = readBytes(rest); err != nil {
				return bad("delete key %d: %v", i, err)
			}
			c.more = append(c.more, k)
		}
	case opCAS:
		return decodeCAS(c, rest)
	case opSet:
		if len(rest) == 0 {
			return bad("set without its flags")
		}
		c.flags, c.value = rest[0], rest[1:]
		if c.flags&^(SetNX|SetXX|SetGet) != 0 {
			return bad("set flags %#x: unknown bits", c.flags)
		}
		if c.flags&(SetNX|SetXX) == SetNX|SetXX {
			return bad("set with both NX and XX")
		}
	case opIncrBy:
		var w int
		if c.delta, w = binary.Varint(rest); w <= 0 {
			return bad("incrby: bad delta")
		}
		if w != len(rest) {
			return bad("%d bytes after an incrby's delta", len(rest)-w)
		}
	}
	return c, nil
}

// decodeCAS decodes what follows a compare-and-set's key.
func decodeCAS(c command, rest []byte) (command, error) {
	bad := func(format string, args ...any) (command, error) { return command{}, badCommand(format, args...) }
	if len(rest) == 0 {
		return bad("compare-and-set without its expectation")
	}
	var err error
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
	return c, nil
}

// badCommand is a decoding error of a command or a query.
func badCommand(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadCommand, fmt.Sprintf(format, args...))
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
