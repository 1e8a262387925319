package kv

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/raftpipe/raftpipe/fsm"
)

func lookup(t *testing.T, m *Machine, q []byte) []byte {
	t.Helper()
	res, err := m.Lookup(q)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func count(t *testing.T, m *Machine, q []byte) uint64 {
	t.Helper()
	n, err := DecodeCountResult(lookup(t, m, q))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func keys(ks ...string) [][]byte {
	b := make([][]byte, len(ks))
	for i, k := range ks {
		b[i] = []byte(k)
	}
	return b
}

// MGET answers each key in order: its value, an empty value as empty, an
// absent key as nil, a key named twice twice.
func TestMGet(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	apply(t, m, EncodePut(nil, []byte("a"), []byte("1")), EncodePut(nil, []byte("empty"), nil))
	vals, err := DecodeMGetResult(lookup(t, m, EncodeMGet(nil, keys("a", "missing", "empty", "a")...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 4 || string(vals[0]) != "1" || vals[1] != nil || vals[2] == nil || len(vals[2]) != 0 || string(vals[3]) != "1" {
		t.Fatalf("MGET a missing empty a: %q", vals)
	}
}

// EXISTS counts a key once per time it is named, as Redis does.
func TestExistsCountsDuplicates(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	apply(t, m, EncodePut(nil, []byte("a"), []byte("1")), EncodePut(nil, []byte("b"), nil))
	for _, tc := range []struct {
		keys []string
		want uint64
	}{
		{[]string{"a"}, 1},
		{[]string{"missing"}, 0},
		{[]string{"a", "a", "b", "missing"}, 3},
		{[]string{"a", "a", "a"}, 3},
	} {
		if n := count(t, m, EncodeExists(nil, keys(tc.keys...)...)); n != tc.want {
			t.Errorf("EXISTS %q: %d, want %d", tc.keys, n, tc.want)
		}
	}
}

// STRLEN is the value's length in bytes, 0 for an absent key.
func TestStrlen(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	apply(t, m, EncodePut(nil, []byte("a"), []byte("héllo")), EncodePut(nil, []byte("empty"), nil))
	for k, want := range map[string]uint64{"a": 6, "empty": 0, "missing": 0} {
		if n := count(t, m, EncodeStrlen(nil, []byte(k))); n != want {
			t.Errorf("STRLEN %s: %d, want %d", k, n, want)
		}
	}
}

// DBSIZE counts the group's keys only, and follows writes and deletes.
func TestDBSize(t *testing.T) {
	s := openStore(t, vfs.NewMem())
	a, b, empty := machine(t, s, 1), machine(t, s, 2), machine(t, s, 3)
	for i := range 50 {
		apply(t, a, EncodePut(nil, fmt.Appendf(nil, "k%02d", i), nil))
	}
	apply(t, b, EncodePut(nil, []byte("k00"), nil))
	apply(t, a, EncodePut(nil, []byte("k00"), []byte("again")), EncodeDeleteKeys(nil, keys("k01", "k02")...))
	if n := count(t, a, EncodeDBSize(nil)); n != 48 {
		t.Fatalf("group 1: %d keys, want 48", n)
	}
	if n := count(t, b, EncodeDBSize(nil)); n != 1 {
		t.Fatalf("group 2: %d keys, want 1", n)
	}
	if n := count(t, empty, EncodeDBSize(nil)); n != 0 {
		t.Fatalf("an empty group: %d keys", n)
	}
}

// Malformed queries are refused with an error that says what is wrong.
func TestLookupRefuses(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	for name, tc := range map[string]struct {
		q    []byte
		want string
	}{
		"empty":             {nil, "empty query"},
		"unknown":           {[]byte{99}, "unknown query 99"},
		"mget count":        {[]byte{queryMGet, 5, 1, 'a'}, "mget: 5 keys in 2 bytes"},
		"mget key":          {[]byte{queryMGet, 1, 4, 'a'}, "mget: key 0: length 4 beyond the 1 bytes left"},
		"mget trailing":     {append(EncodeMGet(nil, keys("a")...), 'x'), "mget: 1 bytes after the keys"},
		"exists count":      {[]byte{queryExists, 0x80}, "exists: bad key count"},
		"dbsize trailing":   {[]byte{queryDBSize, 0}, "1 bytes after a dbsize"},
		"scan keys start":   {[]byte{queryScanKeys, 3}, "keys scan start"},
		"scan keys end":     {[]byte{queryScanKeys, 0, 2, 'a'}, "keys scan end"},
		"scan keys count":   {[]byte{queryScanKeys, 0, 0}, "keys scan count"},
		"scan keys count 0": {EncodeScanKeys(nil, nil, nil, 0, []byte("*")), "keys scan count 0"},
		"scan keys count<0": {EncodeScanKeys(nil, nil, nil, -3, []byte("*")), "keys scan count 0"},
	} {
		_, err := m.Lookup(tc.q)
		if !errors.Is(err, ErrBadCommand) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrBadCommand saying %q", name, err, tc.want)
		}
	}
}

// FuzzMachineLookup asks any bytes as a query: the machine never panics,
// refuses what does not decode with ErrBadCommand, and answers the rest
// with a result its decoder reads, within what the query asked.
func FuzzMachineLookup(f *testing.F) {
	f.Add(EncodeGet(nil, []byte("a")))
	f.Add(EncodeScan(nil, []byte("k"), nil, 3))
	f.Add(EncodeMGet(nil, keys("a", "missing", "")...))
	f.Add(EncodeExists(nil, keys("a", "a", "k1")...))
	f.Add(EncodeStrlen(nil, []byte("k2")))
	f.Add(EncodeDBSize(nil))
	f.Add(EncodeScanKeys(nil, nil, nil, 3, []byte("k[0-9]*")))
	f.Add(EncodeScanKeys(nil, []byte("k1"), []byte("user"), 1, []byte("*1?")))
	s, err := Open(memOptions(vfs.NewMem()))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	m, err := s.Machine(1)
	if err != nil {
		f.Fatal(err)
	}
	cmds := [][]byte{EncodePut(nil, nil, []byte("empty key")), EncodePut(nil, []byte("a"), []byte("1")), EncodePut(nil, []byte("user:1"), nil)}
	for i := range 20 {
		cmds = append(cmds, EncodePut(nil, fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "v%d", i)))
	}
	if err := m.Update([]fsm.Entry{{Index: 1, Cmd: EncodeBatch(nil, cmds...)}}); err != nil {
		f.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q []byte) {
		res, err := m.Lookup(q)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) && !errors.Is(err, fsm.ErrNotFound) {
				t.Fatalf("query %q: %v", q, err)
			}
			return
		}
		switch q[0] {
		case queryScan:
			_, _, err = DecodeScanResult(res)
		case queryMGet:
			ks, _ := readKeyList(q[1:])
			var vals [][]byte
			if vals, err = DecodeMGetResult(res); err == nil && len(vals) != len(ks) {
				t.Fatalf("mget of %d keys: %d values", len(ks), len(vals))
			}
		case queryExists:
			ks, _ := readKeyList(q[1:])
			var n uint64
			if n, err = DecodeCountResult(res); err == nil && n > uint64(len(ks)) {
				t.Fatalf("exists of %d keys: %d", len(ks), n)
			}
		case queryStrlen:
			_, err = DecodeCountResult(res)
		case queryDBSize:
			var n uint64
			if n, err = DecodeCountResult(res); err == nil && n != uint64(len(cmds)) {
				t.Fatalf("dbsize %d, want %d", n, len(cmds))
			}
		case queryScanKeys:
			checkScanKeys(t, q, res)
		}
		if err != nil {
			t.Fatalf("query %q: result %q: %v", q, res, err)
		}
	})
}

// checkScanKeys fails t unless res answers the keys scan q: at most count
// keys, in order, in range, each matching, before the next start.
func checkScanKeys(t *testing.T, q, res []byte) {
	t.Helper()
	start, end, count, pattern, err := decodeScanKeysQuery(q[1:])
	if err != nil {
		t.Fatal(err)
	}
	ks, next, more, err := DecodeScanKeysResult(res)
	if err != nil {
		t.Fatalf("result %q: %v", res, err)
	}
	if uint64(len(ks)) > count {
		t.Fatalf("%d keys, count %d", len(ks), count)
	}
	prev := start
	for i, k := range ks {
		if i > 0 && bytes.Compare(k, prev) <= 0 || bytes.Compare(k, start) < 0 || len(end) > 0 && bytes.Compare(k, end) >= 0 {
			t.Fatalf("key %q out of order or out of [%q, %q)", k, start, end)
		}
		if string(pattern) != "*" && !matchGlob(pattern, k) {
			t.Fatalf("key %q does not match %q", k, pattern)
		}
		prev = k
	}
	if more && (bytes.Compare(next, prev) <= 0 || len(end) > 0 && bytes.Compare(next, end) >= 0) {
		t.Fatalf("next %q not after the last key %q, or beyond the end %q", next, prev, end)
	}
}
