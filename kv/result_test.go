package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// A result that says the command was refused decodes as ErrBadCommand
// with the reason; a status a decoder does not know is an error naming it.
func TestDecodeResultStatuses(t *testing.T) {
	refused := append([]byte{StatusBadCommand}, "kv: bad command: set without its flags"...)
	if _, err := DecodeSetResult(refused); !errors.Is(err, ErrBadCommand) || err.Error() != "kv: bad command: set without its flags" {
		t.Fatalf("refused set: %v", err)
	}
	if _, err := DecodeDeleteResult([]byte{StatusNotInteger}); err == nil || err.Error() != "kv: bad delete result: status 3" {
		t.Fatalf("a delete with an incrby's status: %v", err)
	}
	if _, err := DecodeIncrByResult([]byte{StatusOverflow, 0}); err == nil || errors.Is(err, ErrOverflow) {
		t.Fatalf("an overflow status with bytes after it: %v, want a bad result", err)
	}
	if _, err := DecodeSetResult([]byte{StatusOK, 1, 2}); err == nil {
		t.Fatal("a set result with an old value flag 2 decoded")
	}
}

// FuzzDecodeResults gives any bytes to every result decoder of result.go
// and query.go: none panics, and what one accepts, encoded again, reads
// back the same.
func FuzzDecodeResults(f *testing.F) {
	f.Add([]byte{StatusOK, 1, 1, 'v'})
	f.Add([]byte{StatusOK, 0x80, 1})
	f.Add([]byte{StatusNotInteger})
	f.Add([]byte{2, 0, 1, 1, 'v'})
	f.Add([]byte{1, 2, 1, 'a', 0, 'n', 'e', 'x', 't'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := DecodeDeleteResult(b); err == nil {
			if again, err := DecodeDeleteResult(appendDeleteResult(nil, n)); err != nil || again != n {
				t.Fatalf("delete %d: %d, %v", n, again, err)
			}
		}
		if r, err := DecodeSetResult(b); err == nil {
			for _, flags := range []byte{0, SetGet} {
				if flags == 0 && r.HadOld {
					continue
				}
				again, err := DecodeSetResult(appendSetResult(nil, flags, r.Written, r.Old, r.HadOld))
				if err != nil || again.Written != r.Written || again.HadOld != r.HadOld || !bytes.Equal(again.Old, r.Old) {
					t.Fatalf("set %+v: %+v, %v", r, again, err)
				}
			}
		}
		if n, err := DecodeIncrByResult(b); err == nil {
			if again, err := DecodeIncrByResult(appendIncrByResult(nil, n)); err != nil || again != n {
				t.Fatalf("incrby %d: %d, %v", n, again, err)
			}
		}
		if n, err := DecodeCountResult(b); err == nil {
			if again, err := DecodeCountResult(binary.AppendUvarint(nil, n)); err != nil || again != n {
				t.Fatalf("count %d: %d, %v", n, again, err)
			}
		}
		if vals, err := DecodeMGetResult(b); err == nil {
			re := binary.AppendUvarint(nil, uint64(len(vals)))
			for _, v := range vals {
				if v == nil {
					re = append(re, 0)
				} else {
					re = appendKey(append(re, 1), v)
				}
			}
			again, err := DecodeMGetResult(re)
			if err != nil || !slices.EqualFunc(again, vals, func(a, b []byte) bool { return bytes.Equal(a, b) && (a == nil) == (b == nil) }) {
				t.Fatalf("mget %q: %q, %v", vals, again, err)
			}
		}
		if ks, next, more, err := DecodeScanKeysResult(b); err == nil {
			re := binary.AppendUvarint([]byte{boolByte(more)}, uint64(len(ks)))
			for _, k := range ks {
				re = appendKey(re, k)
			}
			re = append(re, next...)
			ks2, next2, more2, err := DecodeScanKeysResult(re)
			if err != nil || more2 != more || !bytes.Equal(next2, next) || !slices.EqualFunc(ks2, ks, bytes.Equal) {
				t.Fatalf("keys scan %q next %q more %v: %q %q %v, %v", ks, next, more, ks2, next2, more2, err)
			}
		}
	})
}
