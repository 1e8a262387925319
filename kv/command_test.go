package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/raftpipe/raftpipe/fsm"
)

// Put and delete are the in-memory machine's encodings, so clients of one
// speak to the other unchanged.
func TestPutDeleteMatchMemKV(t *testing.T) {
	k, v := []byte("key"), []byte("value")
	if !bytes.Equal(EncodePut(nil, k, v), fsm.EncodePut(nil, k, v)) || !bytes.Equal(EncodeDelete(nil, k), fsm.EncodeDelete(nil, k)) {
		t.Fatal("put or delete encode differently from fsm's")
	}
}

// Malformed commands are refused with an error that says what is wrong.
func TestDecodeCommandRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		cmd  []byte
		want string
	}{
		"empty":            {nil, "empty"},
		"opcode":           {[]byte{42}, "unknown opcode 42"},
		"key length":       {[]byte{opPut, 9, 'a'}, "key: length 9 beyond the 1 bytes left"},
		"delete trailing":  {append(EncodeDelete(nil, []byte("k")), 'x'), "delete key 1: length 120 beyond the 0 bytes left"},
		"delete no key":    {EncodeDeleteKeys(nil), "key: bad length"},
		"delete 2nd key":   {append(EncodeDelete(nil, []byte("k")), 0x80), "delete key 1: bad length"},
		"set flags":        {[]byte{opSet, 1, 'k'}, "set without its flags"},
		"set bits":         {EncodeSet(nil, []byte("k"), nil, 8), "set flags 0x8: unknown bits"},
		"set NX XX":        {EncodeSet(nil, []byte("k"), nil, SetNX|SetXX|SetGet), "both NX and XX"},
		"incrby delta":     {[]byte{opIncrBy, 1, 'k'}, "incrby: bad delta"},
		"incrby long":      {append([]byte{opIncrBy, 1, 'k'}, bytes.Repeat([]byte{0xff}, 11)...), "incrby: bad delta"},
		"incrby trailing":  {append(EncodeIncrBy(nil, []byte("k"), -1), 0), "1 bytes after an incrby's delta"},
		"incrby key":       {[]byte{opIncrBy, 5, 'k'}, "key: length 5 beyond the 1 bytes left"},
		"batch bad set":    {EncodeBatch(nil, EncodePut(nil, nil, nil), []byte{opSet, 0}), "batch command 1: kv: bad command: set without its flags"},
		"cas expectation":  {[]byte{opCAS, 1, 'k'}, "without its expectation"},
		"cas flag":         {[]byte{opCAS, 1, 'k', 7}, "expectation flag 7"},
		"cas value":        {[]byte{opCAS, 1, 'k', 0}, "without its new value"},
		"nested batch":     {EncodeBatch(nil, EncodeBatch(nil)), "a batch inside a batch"},
		"batch trailing":   {append(EncodeBatch(nil, EncodePut(nil, []byte("k"), nil)), 1), "1 bytes after the batch's commands"},
		"batch count":      {[]byte{opBatch, 200, 1}, "bad count"},
		"batch bad member": {EncodeBatch(nil, []byte{42}), "batch command 0: kv: bad command: unknown opcode 42"},
	} {
		_, err := decodeCommand(tc.cmd, false)
		if !errors.Is(err, ErrBadCommand) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%s: %v, want ErrBadCommand saying %q", name, err, tc.want)
		}
	}
}

// FuzzMachineCommand applies any bytes as a command: the machine never
// fails and never panics, a command that does not decode changes nothing
// and says so, and one that does answers with a known status.
func FuzzMachineCommand(f *testing.F) {
	f.Add(EncodePut(nil, []byte("k"), []byte("v")))
	f.Add(EncodeCAS(nil, []byte("k"), []byte("v"), nil))
	f.Add(EncodeBatch(nil, EncodePut(nil, []byte("a"), nil), EncodeDelete(nil, []byte("a"))))
	f.Add([]byte{opCAS, 1, 'k', 1, 1, 'v', 1})
	f.Add(EncodeSet(nil, []byte("k"), []byte("v"), SetNX|SetGet))
	f.Add(EncodeIncrBy(nil, []byte("k"), -3))
	f.Add(EncodeIncrBy(nil, []byte("v"), 1)) // not an integer once k's value is "v"
	f.Add(EncodeDeleteKeys(nil, []byte("a"), []byte("k"), []byte("a")))
	f.Add(EncodeBatch(nil, EncodeSet(nil, []byte("n"), []byte("9223372036854775807"), 0), EncodeIncrBy(nil, []byte("n"), 1)))
	s, err := Open(memOptions(vfs.NewMem()))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	m, err := s.Machine(1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cmd []byte) {
		before, _ := m.Lookup(EncodeScan(nil, nil, nil, 1000))
		ents := []fsm.Entry{{Index: m.pendingApplied + 1, Cmd: cmd}}
		if err := m.Update(ents); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if err := s.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		res := ents[0].Result
		if len(res) == 0 || res[0] > StatusOverflow {
			t.Fatalf("result %q has no known status", res)
		}
		c, derr := decodeCommand(cmd, false)
		if (derr != nil) != (res[0] == StatusBadCommand) {
			t.Fatalf("decode error %v but result status %d", derr, res[0])
		}
		if derr != nil || res[0] == StatusNotInteger || res[0] == StatusOverflow {
			if after, _ := m.Lookup(EncodeScan(nil, nil, nil, 1000)); !bytes.Equal(before, after) {
				t.Fatalf("a command that failed (status %d) changed the state", res[0])
			}
		}
		if derr == nil {
			checkResultDecodes(t, c, res)
		}
	})
}

// checkResultDecodes fails t unless res decodes as c's kind of result.
func checkResultDecodes(t *testing.T, c command, res []byte) {
	t.Helper()
	var err error
	switch c.op {
	case opDelete:
		var n uint64
		if n, err = DecodeDeleteResult(res); err == nil && n > uint64(1+len(c.more)) {
			t.Fatalf("a delete of %d keys found %d", 1+len(c.more), n)
		}
	case opSet:
		_, err = DecodeSetResult(res)
	case opIncrBy:
		if _, err = DecodeIncrByResult(res); errors.Is(err, ErrNotInteger) || errors.Is(err, ErrOverflow) {
			err = nil
		}
	case opBatch:
		if res[0] != StatusOK {
			t.Fatalf("a batch that decoded answered status %d", res[0])
		}
		rest := res[1:]
		for i, sub := range c.subs {
			var r []byte
			if r, rest, err = readBytes(rest); err != nil {
				t.Fatalf("batch result %d: %v", i, err)
			}
			checkResultDecodes(t, sub, r)
		}
		if len(rest) != 0 {
			t.Fatalf("%d bytes after a batch's results", len(rest))
		}
	}
	if err != nil {
		t.Fatalf("result %q of opcode %d: %v", res, c.op, err)
	}
}

// FuzzDecodeScanResult never panics, and what it accepts, encoded again,
// reads back the same.
func FuzzDecodeScanResult(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Add([]byte{1, 1, 1, 'k', 1, 'v'})
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, more, err := DecodeScanResult(b)
		if err != nil {
			return
		}
		re := []byte{0}
		if more {
			re[0] = 1
		}
		re = binary.AppendUvarint(re, uint64(len(pairs)))
		for _, p := range pairs {
			re = appendKey(appendKey(re, p.Key), p.Value)
		}
		again, more2, err := DecodeScanResult(re)
		if err != nil || more2 != more || len(again) != len(pairs) {
			t.Fatalf("re-encoded result: %v, more %v/%v, %d/%d pairs", err, more, more2, len(again), len(pairs))
		}
		for i := range pairs {
			if !bytes.Equal(again[i].Key, pairs[i].Key) || !bytes.Equal(again[i].Value, pairs[i].Value) {
				t.Fatalf("pair %d changed in a round trip", i)
			}
		}
	})
}
