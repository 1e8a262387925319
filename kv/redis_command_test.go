package kv

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/raftpipe/raftpipe/fsm"
)

func setResult(t *testing.T, res []byte) SetResult {
	t.Helper()
	r, err := DecodeSetResult(res)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// SET's options do what Redis' do: NX writes only to an absent key, XX
// only to a present one, GET returns the value before, or its absence,
// whether or not the write happened.
func TestSetOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		before  *string // nil: absent
		flags   byte
		written bool
		hadOld  bool // with SetGet
	}{
		{"plain on absent", nil, 0, true, false},
		{"plain on present", ptr("old"), 0, true, false},
		{"NX on absent", nil, SetNX, true, false},
		{"NX on present", ptr("old"), SetNX, false, false},
		{"XX on absent", nil, SetXX, false, false},
		{"XX on present", ptr("old"), SetXX, true, false},
		{"GET on absent", nil, SetGet, true, false},
		{"GET on present", ptr("old"), SetGet, true, true},
		{"GET of an empty value", ptr(""), SetGet, true, true},
		{"NX GET on present", ptr("old"), SetNX | SetGet, false, true},
		{"NX GET on absent", nil, SetNX | SetGet, true, false},
		{"XX GET on absent", nil, SetXX | SetGet, false, false},
		{"XX GET on present", ptr("old"), SetXX | SetGet, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := machine(t, openStore(t, vfs.NewMem()), 1)
			if tc.before != nil {
				apply(t, m, EncodePut(nil, []byte("k"), []byte(*tc.before)))
			}
			r := setResult(t, apply(t, m, EncodeSet(nil, []byte("k"), []byte("new"), tc.flags))[0])
			if r.Written != tc.written || r.HadOld != tc.hadOld {
				t.Fatalf("written %v had old %v, want %v %v", r.Written, r.HadOld, tc.written, tc.hadOld)
			}
			if tc.hadOld && (r.Old == nil || string(r.Old) != *tc.before) {
				t.Fatalf("old value %q, want %q", r.Old, *tc.before)
			}
			v, ok := get(t, m, "k")
			switch {
			case tc.written && (!ok || v != "new"):
				t.Fatalf("after a set that wrote: %q present %v", v, ok)
			case !tc.written && tc.before == nil && ok:
				t.Fatalf("a set that did not write created %q", v)
			case !tc.written && tc.before != nil && v != *tc.before:
				t.Fatalf("a set that did not write changed the value to %q", v)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// NX with XX is a syntax error in Redis; here it is a bad command, and
// nothing is written.
func TestSetRefusesNXWithXX(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	res := apply(t, m, EncodeSet(nil, []byte("k"), []byte("v"), SetNX|SetXX))[0]
	if _, err := DecodeSetResult(res); !errors.Is(err, ErrBadCommand) || !bytes.Contains([]byte(err.Error()), []byte("both NX and XX")) {
		t.Fatalf("NX|XX: %v, want a bad command naming both", err)
	}
	if _, ok := get(t, m, "k"); ok {
		t.Fatal("a refused set wrote")
	}
}

// INCRBY takes the value as Redis does: a base-10 int64 in its one
// canonical form, anything else is not an integer; the sum must fit; a
// failure changes nothing; an absent key counts as 0; the new value is
// stored as text.
func TestIncrBy(t *testing.T) {
	const maxS, minS = "9223372036854775807", "-9223372036854775808"
	for _, tc := range []struct {
		before *string
		delta  int64
		want   int64
		err    error
	}{
		{nil, 5, 5, nil},
		{nil, -5, -5, nil},
		{ptr("10"), -3, 7, nil},
		{ptr("0"), 0, 0, nil},
		{ptr("-7"), 1, -6, nil},
		{ptr(maxS), 0, math.MaxInt64, nil},
		{ptr(minS), 0, math.MinInt64, nil},
		{ptr("9223372036854775806"), 1, math.MaxInt64, nil},
		{ptr("-9223372036854775807"), -1, math.MinInt64, nil},
		{ptr("0"), math.MinInt64, math.MinInt64, nil},
		{ptr("-1"), math.MaxInt64, math.MaxInt64 - 1, nil},
		{ptr(maxS), 1, 0, ErrOverflow},
		{ptr("1"), math.MaxInt64, 0, ErrOverflow},
		{ptr(minS), -1, 0, ErrOverflow},
		{ptr("-1"), math.MinInt64, 0, ErrOverflow},
		{ptr(minS), math.MinInt64, 0, ErrOverflow},
		{ptr(""), 1, 0, ErrNotInteger},
		{ptr("abc"), 1, 0, ErrNotInteger},
		{ptr("  1"), 1, 0, ErrNotInteger},
		{ptr(" 1"), 1, 0, ErrNotInteger},
		{ptr("1 "), 1, 0, ErrNotInteger},
		{ptr("01"), 1, 0, ErrNotInteger},
		{ptr("00"), 1, 0, ErrNotInteger},
		{ptr("-0"), 1, 0, ErrNotInteger},
		{ptr("-01"), 1, 0, ErrNotInteger},
		{ptr("+1"), 1, 0, ErrNotInteger},
		{ptr("-"), 1, 0, ErrNotInteger},
		{ptr("1.5"), 1, 0, ErrNotInteger},
		{ptr("1e3"), 1, 0, ErrNotInteger},
		{ptr("0x10"), 1, 0, ErrNotInteger},
		{ptr("1_000"), 1, 0, ErrNotInteger},
		{ptr("9223372036854775808"), -1, 0, ErrNotInteger},
		{ptr("-9223372036854775809"), 1, 0, ErrNotInteger},
		{ptr("18446744073709551616"), 1, 0, ErrNotInteger},
		{ptr("1\x00"), 1, 0, ErrNotInteger},
	} {
		name := "absent"
		if tc.before != nil {
			name = strconv.Quote(*tc.before)
		}
		t.Run(name+"+"+strconv.FormatInt(tc.delta, 10), func(t *testing.T) {
			m := machine(t, openStore(t, vfs.NewMem()), 1)
			if tc.before != nil {
				apply(t, m, EncodePut(nil, []byte("n"), []byte(*tc.before)))
			}
			got, err := DecodeIncrByResult(apply(t, m, EncodeIncrBy(nil, []byte("n"), tc.delta))[0])
			v, ok := get(t, m, "n")
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %d, %v; want %v", got, err, tc.err)
				}
				if tc.before == nil && ok || tc.before != nil && v != *tc.before {
					t.Fatalf("a failed incrby left %q (present %v)", v, ok)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
			if v != strconv.FormatInt(tc.want, 10) {
				t.Fatalf("stored %q, want %d as text", v, tc.want)
			}
		})
	}
}

// The error texts are Redis' own, which a RESP reply carries after "ERR ".
func TestIncrByErrorsAreRedis(t *testing.T) {
	if ErrNotInteger.Error() != "value is not an integer or out of range" ||
		ErrOverflow.Error() != "increment or decrement would overflow" {
		t.Fatalf("%q, %q", ErrNotInteger, ErrOverflow)
	}
}

// DEL of many keys counts those that existed; a key named twice counts
// once, as the second delete finds it gone.
func TestDeleteKeys(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	apply(t, m, EncodePut(nil, []byte("a"), []byte("1")), EncodePut(nil, []byte("b"), nil), EncodePut(nil, []byte("keep"), []byte("x")))
	res := apply(t, m, EncodeDeleteKeys(nil, []byte("a"), []byte("b"), []byte("missing"), []byte("a")))[0]
	if n, err := DecodeDeleteResult(res); err != nil || n != 2 {
		t.Fatalf("DEL a b missing a: %d, %v; want 2", n, err)
	}
	for _, k := range []string{"a", "b"} {
		if _, ok := get(t, m, k); ok {
			t.Fatalf("%s survived its delete", k)
		}
	}
	if _, ok := get(t, m, "keep"); !ok {
		t.Fatal("a key not named was deleted")
	}
	res = apply(t, m, EncodeDeleteKeys(nil))[0]
	if _, err := DecodeDeleteResult(res); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("DEL without a key: %v, want a bad command", err)
	}
}

// A delete of one key is encoded, applied and answered as before, so logs
// written before deletes took many keys apply unchanged.
func TestDeleteOneKeyUnchanged(t *testing.T) {
	k := []byte("k")
	if !bytes.Equal(EncodeDeleteKeys(nil, k), EncodeDelete(nil, k)) || !bytes.Equal(EncodeDelete(nil, k), []byte{opDelete, 1, 'k'}) {
		t.Fatal("a one-key delete is encoded differently")
	}
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	res := apply(t, m, EncodePut(nil, k, nil), EncodeDelete(nil, k), EncodeDelete(nil, k))
	if !bytes.Equal(res[1], []byte{StatusOK, 1}) || !bytes.Equal(res[2], []byte{StatusOK, 0}) {
		t.Fatalf("one-key delete results %v %v, want [0 1] [0 0]", res[1], res[2])
	}
}

// MSET is a batch of puts: one entry, every key written.
func TestMSetIsABatchOfPuts(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	res := apply(t, m, EncodeBatch(nil, EncodePut(nil, []byte("a"), []byte("1")), EncodePut(nil, []byte("b"), []byte("2")), EncodePut(nil, []byte("a"), []byte("3"))))
	if !bytes.Equal(res[0], []byte{StatusOK, 1, StatusOK, 1, StatusOK, 1, StatusOK}) {
		t.Fatalf("result %v", res[0])
	}
	if a, _ := get(t, m, "a"); a != "3" {
		t.Fatalf("a = %q, want the last of the two puts", a)
	}
	if b, _ := get(t, m, "b"); b != "2" {
		t.Fatalf("b = %q", b)
	}
}

// Commands applied in one drain, before its commit, read through the
// store's shared batch: each sees the writes of the entries before it, of
// its own group only, across Update calls and inside a batch.
func TestDrainSeesEarlierEntries(t *testing.T) {
	s := openStore(t, vfs.NewMem())
	g1, g2 := machine(t, s, 1), machine(t, s, 2)
	k := []byte("k")
	first := []fsm.Entry{
		{Index: 1, Cmd: EncodePut(nil, k, []byte("1"))},
		{Index: 2, Cmd: EncodeIncrBy(nil, k, 2)},
		{Index: 3, Cmd: EncodeSet(nil, k, []byte("x"), SetNX|SetGet)},
	}
	other := []fsm.Entry{{Index: 1, Cmd: EncodeIncrBy(nil, k, 10)}}
	second := []fsm.Entry{
		{Index: 4, Cmd: EncodeDeleteKeys(nil, k, k)},
		{Index: 5, Cmd: EncodeBatch(nil, EncodeSet(nil, k, []byte("7"), SetXX), EncodeIncrBy(nil, k, 1), EncodeSet(nil, k, []byte("8"), SetNX))},
		{Index: 6, Cmd: EncodeIncrBy(nil, k, 1)},
	}
	for _, u := range []struct {
		m    *Machine
		ents []fsm.Entry
	}{{g1, first}, {g2, other}, {g1, second}} {
		if err := u.m.Update(u.ents); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := get(t, g1, "k"); ok {
		t.Fatal("the drain is visible before its commit")
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, err := DecodeIncrByResult(first[1].Result); err != nil || n != 3 {
		t.Fatalf("incr after the put: %d, %v; want 3", n, err)
	}
	if r := setResult(t, first[2].Result); r.Written || string(r.Old) != "3" {
		t.Fatalf("SET NX GET after the incr: %+v, want not written, old 3", r)
	}
	if n, err := DecodeIncrByResult(other[0].Result); err != nil || n != 10 {
		t.Fatalf("group 2's incr: %d, %v; want 10, untouched by group 1", n, err)
	}
	if n, err := DecodeDeleteResult(second[0].Result); err != nil || n != 1 {
		t.Fatalf("DEL k k in the second Update: %d, %v; want 1", n, err)
	}
	subs := batchResults(t, second[1].Result)
	if r := setResult(t, subs[0]); r.Written {
		t.Fatal("SET XX after the delete wrote")
	}
	if n, err := DecodeIncrByResult(subs[1]); err != nil || n != 1 {
		t.Fatalf("incr inside the batch: %d, %v; want 1", n, err)
	}
	if r := setResult(t, subs[2]); r.Written {
		t.Fatal("SET NX after the batch's incr wrote")
	}
	if n, err := DecodeIncrByResult(second[2].Result); err != nil || n != 2 {
		t.Fatalf("incr after the batch: %d, %v; want 2", n, err)
	}
	if v, _ := get(t, g1, "k"); v != "2" {
		t.Fatalf("k = %q after the drain, want 2", v)
	}
}

// batchResults splits a batch's result into its commands' results.
func batchResults(t *testing.T, res []byte) [][]byte {
	t.Helper()
	if len(res) == 0 || res[0] != StatusOK {
		t.Fatalf("batch result %v", res)
	}
	var subs [][]byte
	for rest := res[1:]; len(rest) > 0; {
		var r []byte
		var err error
		if r, rest, err = readBytes(rest); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, r)
	}
	return subs
}
