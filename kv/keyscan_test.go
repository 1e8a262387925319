package kv

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// scanKeysToEnd runs a keys scan from the first key to the end, count
// keys a call, and checks each call against all, the group's keys in
// order: at most count keys returned, at most 10×count keys looked at
// (those from the call's start to the next call's), every returned key
// matching.
func scanKeysToEnd(t *testing.T, m *Machine, all []string, count int, pattern string) (got []string, calls int) {
	t.Helper()
	var start []byte
	for {
		calls++
		ks, next, more, err := DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, start, nil, count, []byte(pattern))))
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) > count {
			t.Fatalf("pattern %q count %d: a call returned %d keys", pattern, count, len(ks))
		}
		for _, k := range ks {
			if pattern != "*" && !matchGlob([]byte(pattern), k) {
				t.Fatalf("pattern %q: returned %q, which does not match", pattern, k)
			}
			got = append(got, string(k))
		}
		if !more {
			return got, calls
		}
		from, _ := slices.BinarySearch(all, string(start))
		to, found := slices.BinarySearch(all, string(next))
		if !found || bytes.Compare(next, start) <= 0 {
			t.Fatalf("pattern %q: next %q after start %q is not a later key", pattern, next, start)
		}
		// The scan seeks past the keys without the pattern's literal
		// prefix; it looks at the others up to next.
		looked := 0
		for _, k := range all[from:to] {
			if strings.HasPrefix(k, string(literalPrefix([]byte(pattern)))) {
				looked++
			}
		}
		if looked > scanKeysExaminedPerCount*count {
			t.Fatalf("pattern %q count %d: a call looked at %d keys", pattern, count, looked)
		}
		start = next
	}
}

// A scan run to its end visits every matching key exactly once, in
// order, within its bound of keys looked at per call, whatever the
// pattern; another group's keys never show.
func TestScanKeysVisitsEachKeyOnce(t *testing.T) {
	s := openStore(t, vfs.NewMem())
	m, other := machine(t, s, 1), machine(t, s, 2)
	var all []string
	var puts [][]byte
	for i := range 400 {
		k := fmt.Sprintf("k%03d", i)
		if i%50 == 0 {
			k = fmt.Sprintf("user:%03d", i)
		}
		all = append(all, k)
		puts = append(puts, EncodePut(nil, []byte(k), nil))
	}
	slices.Sort(all)
	apply(t, m, EncodeBatch(nil, puts...))
	apply(t, other, EncodePut(nil, []byte("k0000"), nil), EncodePut(nil, []byte("user:x"), nil))

	for _, tc := range []struct {
		pattern string
		count   int
	}{
		{"*", 1}, {"*", 7}, {"*", 1000},
		{"k1*", 3},          // a literal prefix: the scan seeks to it
		{"*[05]", 4},        // a class, no prefix: many calls return less than count
		{"k?[^0-8]?", 5},    // '?' and a negated class
		{"*9", 1},           // one key in ten: calls that return nothing go on
		{"user:*", 2},       // 8 keys, far apart in the group
		{`k\0*`, 10},        // an escape ends the literal prefix
		{"*nothing*", 2},    // no key: the scan still ends
		{"k0[0-2][0-9]", 6}, // ranges
	} {
		var want []string
		for _, k := range all {
			if tc.pattern == "*" || matchGlob([]byte(tc.pattern), []byte(k)) {
				want = append(want, k)
			}
		}
		got, calls := scanKeysToEnd(t, m, all, tc.count, tc.pattern)
		if !slices.Equal(got, want) {
			t.Errorf("pattern %q count %d: %d keys in %d calls, want the %d matching, once each, in order", tc.pattern, tc.count, len(got), calls, len(want))
		}
	}
}

// A call that looks at its bound of keys returns what matched, perhaps
// nothing, and the first key it did not look at, as Redis returns a
// cursor after COUNT work.
func TestScanKeysBoundsTheKeysLookedAt(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	var puts [][]byte
	for i := range 100 {
		puts = append(puts, EncodePut(nil, fmt.Appendf(nil, "k%03d", i), nil))
	}
	apply(t, m, EncodeBatch(nil, puts...))
	ks, next, more, err := DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, nil, nil, 2, []byte("*zzz"))))
	if err != nil || len(ks) != 0 || !more || string(next) != "k020" {
		t.Fatalf("count 2, no match: %q next %q more %v, %v; want none, next k020", ks, next, more, err)
	}
	ks, next, more, _ = DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, []byte("k050"), nil, 3, []byte("*"))))
	if len(ks) != 3 || string(ks[0]) != "k050" || string(next) != "k053" || !more {
		t.Fatalf("from k050 count 3: %q next %q more %v", ks, next, more)
	}
	ks, _, more, _ = DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, []byte("k097"), nil, 3, []byte("*"))))
	if len(ks) != 3 || more {
		t.Fatalf("the last 3 keys, count 3: %q more %v; want complete", ks, more)
	}
}

// The start and end bounds hold, the empty key is a key, and "*" returns
// it as Redis' SCAN does (it skips matching for "*").
func TestScanKeysRangeAndEmptyKey(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	apply(t, m, EncodePut(nil, nil, []byte("empty key")), EncodePut(nil, []byte("a"), nil), EncodePut(nil, []byte("b"), nil), EncodePut(nil, []byte("c"), nil))
	ks, _, more, _ := DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, nil, nil, 10, []byte("*"))))
	if len(ks) != 4 || len(ks[0]) != 0 || more {
		t.Fatalf("*: %q more %v, want the empty key first, then a b c", ks, more)
	}
	ks, _, _, _ = DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, nil, nil, 10, []byte("**"))))
	if len(ks) != 3 {
		t.Fatalf("**: %q, want a b c, not the empty key", ks)
	}
	ks, _, more, _ = DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, []byte("a"), []byte("c"), 10, []byte("*"))))
	if len(ks) != 2 || string(ks[1]) != "b" || more {
		t.Fatalf("[a, c): %q more %v", ks, more)
	}
	ks, _, more, _ = DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, []byte("c"), []byte("a"), 10, []byte("*"))))
	if len(ks) != 0 || more {
		t.Fatalf("[c, a): %q more %v, want an empty, complete scan", ks, more)
	}
	ks, _, _, _ = DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, []byte("a"), []byte("c"), 10, []byte("c*"))))
	if len(ks) != 0 {
		t.Fatalf("[a, c) with c*: %q, the prefix must not widen the range", ks)
	}
}

// A literal prefix of all 0xff bytes has no successor: the scan runs to
// the end of the group.
func TestScanKeysPrefixWithoutSuccessor(t *testing.T) {
	m := machine(t, openStore(t, vfs.NewMem()), 1)
	apply(t, m, EncodePut(nil, []byte("\xff\xff"), nil), EncodePut(nil, []byte("\xff\xff\x01"), nil), EncodePut(nil, []byte("\xfe"), nil))
	ks, _, more, _ := DecodeScanKeysResult(lookup(t, m, EncodeScanKeys(nil, nil, nil, 10, []byte("\xff\xff*"))))
	if len(ks) != 2 || more {
		t.Fatalf("\\xff\\xff*: %q more %v", ks, more)
	}
}
