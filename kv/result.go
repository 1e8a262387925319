package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The results of set, incrby and delete, built by the append functions as
// the machine applies a command and read by the Decode functions, which a
// service calls to build its replies:
//
//	delete  StatusOK | uvarint the number of keys that existed
//	set     StatusOK | written (0 or 1) | with SetGet: old
//	          old: 0 (the key was absent) or 1 | the value it held (the rest)
//	incrby  StatusOK | varint the new value
//	        StatusNotInteger, or StatusOverflow, alone

// ErrNotInteger and ErrOverflow are an incrby's failures, in Redis' words:
// a RESP reply is "-ERR " followed by the text.
var (
	ErrNotInteger = errors.New("value is not an integer or out of range")
	ErrOverflow   = errors.New("increment or decrement would overflow")
)

// SetResult is what a set did.
type SetResult struct {
	// Written is whether the value was stored: SetNX and SetXX may
	// prevent it. Redis replies OK, or nil when it was not.
	Written bool
	// With SetGet: HadOld is whether the key held a value before the set,
	// and Old is that value. Redis replies with Old, or nil without HadOld.
	HadOld bool
	Old    []byte
}

func appendDeleteResult(dst []byte, existed uint64) []byte {
	return binary.AppendUvarint(append(dst, StatusOK), existed)
}

// appendSetResult appends a set's result; old and hadOld only count with
// SetGet among flags.
func appendSetResult(dst []byte, flags byte, written bool, old []byte, hadOld bool) []byte {
	dst = append(dst, StatusOK, boolByte(written))
	if flags&SetGet == 0 {
		return dst
	}
	if !hadOld {
		return append(dst, 0)
	}
	return append(append(dst, 1), old...)
}

func appendIncrByResult(dst []byte, n int64) []byte {
	return binary.AppendVarint(append(dst, StatusOK), n)
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// DecodeDeleteResult reads how many of a delete's keys existed.
func DecodeDeleteResult(res []byte) (existed uint64, err error) {
	body, err := resultBody(res, "delete")
	if err != nil {
		return 0, err
	}
	n, w := binary.Uvarint(body)
	if w <= 0 || w != len(body) {
		return 0, fmt.Errorf("kv: bad delete result: count %x", body)
	}
	return n, nil
}

// DecodeSetResult reads what a set did.
func DecodeSetResult(res []byte) (SetResult, error) {
	body, err := resultBody(res, "set")
	if err != nil {
		return SetResult{}, err
	}
	if len(body) == 0 || body[0] > 1 {
		return SetResult{}, errors.New("kv: bad set result: no written flag")
	}
	r := SetResult{Written: body[0] == 1}
	switch old := body[1:]; {
	case len(old) == 0: // no SetGet
	case old[0] == 0 && len(old) == 1:
	case old[0] == 1:
		r.HadOld, r.Old = true, old[1:]
	default:
		return SetResult{}, fmt.Errorf("kv: bad set result: old value flag %d and %d bytes", old[0], len(old)-1)
	}
	return r, nil
}

// DecodeIncrByResult reads an incrby's new value, or its failure:
// ErrNotInteger or ErrOverflow, with the state unchanged.
func DecodeIncrByResult(res []byte) (int64, error) {
	if len(res) == 1 {
		switch res[0] {
		case StatusNotInteger:
			return 0, ErrNotInteger
		case StatusOverflow:
			return 0, ErrOverflow
		}
	}
	body, err := resultBody(res, "incrby")
	if err != nil {
		return 0, err
	}
	n, w := binary.Varint(body)
	if w <= 0 || w != len(body) {
		return 0, fmt.Errorf("kv: bad incrby result: value %x", body)
	}
	return n, nil
}

// resultBody returns what follows a result's StatusOK; a command refused
// as bad comes back as its ErrBadCommand.
func resultBody(res []byte, what string) ([]byte, error) {
	if len(res) == 0 {
		return nil, fmt.Errorf("kv: bad %s result: empty", what)
	}
	switch res[0] {
	case StatusOK:
		return res[1:], nil
	case StatusBadCommand:
		why := bytes.TrimPrefix(res[1:], []byte(ErrBadCommand.Error()+": "))
		return nil, fmt.Errorf("%w: %s", ErrBadCommand, why)
	}
	return nil, fmt.Errorf("kv: bad %s result: status %d", what, res[0])
}
