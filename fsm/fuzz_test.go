package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// Any committed bytes are applied without a panic: either decoded as a
// command whose effect a lookup shows, or answered as a bad command with
// the state unchanged.
func FuzzMemKVCommand(f *testing.F) {
	f.Add(put("key", "value"))
	f.Add(EncodeDelete(nil, []byte("key")))
	f.Add([]byte{opPut, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, cmd []byte) {
		m := NewMemKV()
		ents := []Entry{{Index: 1, Cmd: put("key", "old")}, {Index: 2, Cmd: cmd}}
		if err := m.Update(ents); err != nil {
			t.Fatalf("a command failed the machine: %v", err)
		}
		if m.Applied() != 2 {
			t.Fatalf("applied %d, want 2", m.Applied())
		}
		valid := false
		if len(cmd) > 0 {
			if n, w := binary.Uvarint(cmd[1:]); w > 0 && n <= uint64(len(cmd)-1-w) {
				key, rest := cmd[1+w:1+w+int(n)], cmd[1+w+int(n):]
				switch {
				case cmd[0] == opPut:
					valid = true
					if v, err := m.Lookup(key); err != nil || !bytes.Equal(v, rest) {
						t.Fatalf("put %q=%q, lookup gives %q, %v", key, rest, v, err)
					}
				case cmd[0] == opDelete && len(rest) == 0:
					valid = true
					if _, err := m.Lookup(key); !errors.Is(err, ErrNotFound) {
						t.Fatalf("deleted %q, lookup gives %v", key, err)
					}
				}
			}
		}
		res := ents[1].Result
		switch {
		case valid && (len(res) == 0 || res[0] != StatusOK):
			t.Fatalf("valid command %q gave result %q", cmd, res)
		case !valid && (len(res) == 0 || res[0] != StatusBadCommand):
			t.Fatalf("invalid command %q gave result %q", cmd, res)
		case !valid:
			if v, _ := m.Lookup([]byte("key")); string(v) != "old" || m.Len() != 1 {
				t.Fatalf("bad command %q changed the state: key=%q, %d keys", cmd, v, m.Len())
			}
		}
	})
}
