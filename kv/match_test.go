package kv

import (
	"bytes"
	"strings"
	"testing"
)

// The glob is Redis' MATCH, quirks included; each case is what Redis'
// stringmatchlen answers.
func TestMatchGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "anything", true},
		{"*", "", false}, // SCAN answers "*" without matching: see scanKeys
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h*llo", "hllo", true},
		{"h*llo", "heeeello", true},
		{"h*llo", "hello!", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"**a", "a", true},
		{"a**", "a", true},
		{"a*?", "a", false},
		{"h[ae]llo", "hello", true},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[a-b]llo", "hcllo", false},
		{"[z-a]", "m", true}, // a reversed range is the range
		{"[a-cx-z]", "y", true},
		{"[a-cx-z]", "d", false},
		{"[]", "a", false}, // an empty class matches nothing
		{"[^]", "a", true},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{`\?`, "?", true},
		{`\?`, "a", false},
		{`\a`, "a", true},
		{`[\]]`, "]", true},
		{`[\]]`, `\`, false},
		{`[\^a]`, "^", true},
		{`[a\-z]`, "-", true},
		{`[a\-z]`, "m", false},
		{"[abc", "a", true}, // no ']': the class runs to the end
		{"[abc", "d", false},
		{"[abc", "ab", false},
		{"[a-]x", "x", true}, // the range a to ']', then x, unterminated
		{"[a-]x", "_", true},
		{"[a-]x", "b", false},
		{"[a-]x", "ax", false},
		{`a\`, `a\`, true}, // a trailing '\' is itself
		{`a\`, "a", false},
		{`[a\`, `\`, true},
		{"*a*a*a*a*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 60), false},
		{strings.Repeat("*a", 1100), strings.Repeat("a", 1100), false}, // Redis' nesting bound
		{strings.Repeat("*a", 900), strings.Repeat("a", 900), true},
		{"k\xff*", "k\xff\x00", true},
		{"[\x80-\xff]", "\x90", true},
	} {
		if got := matchGlob([]byte(tc.pattern), []byte(tc.s)); got != tc.want {
			t.Errorf("match %q against %q: %v, want %v", trim(tc.pattern), trim(tc.s), got, tc.want)
		}
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// The literal prefix stops at the first byte that is not itself.
func TestLiteralPrefix(t *testing.T) {
	for pattern, want := range map[string]string{
		"user:*": "user:", "abc": "abc", `a\*`: "a", "[x]": "", "?": "", "ab?c*": "ab", "": "",
	} {
		if got := literalPrefix([]byte(pattern)); string(got) != want {
			t.Errorf("literalPrefix(%q) = %q, want %q", pattern, got, want)
		}
	}
}

// FuzzMatchGlob: any pattern and key, matched, never panic; a pattern
// that escapes every byte of a key matches that key and no other; a key
// that matches starts with the pattern's literal prefix.
func FuzzMatchGlob(f *testing.F) {
	f.Add([]byte("h[^e]l*o"), []byte("hallo"))
	f.Add([]byte(`[a-]x\`), []byte("x"))
	f.Add([]byte("*a*a*b"), []byte("aaaaaaaa"))
	f.Fuzz(func(t *testing.T, pattern, s []byte) {
		if matchGlob(pattern, s) && !bytes.HasPrefix(s, literalPrefix(pattern)) {
			t.Fatalf("%q matches %q without its literal prefix %q", pattern, s, literalPrefix(pattern))
		}
		var escaped []byte
		for _, c := range pattern {
			escaped = append(escaped, '\\', c)
		}
		if got := matchGlob(escaped, s); got != bytes.Equal(pattern, s) {
			t.Fatalf("the escaped %q against %q: %v", pattern, s, got)
		}
		if !matchGlob(escaped, pattern) {
			t.Fatalf("the escaped %q does not match itself", pattern)
		}
	})
}
