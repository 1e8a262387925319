package resp

import (
	"slices"
	"strings"
	"testing"
)

// The cases follow Redis' sdssplitargs, which splits inline commands (and
// redis-cli's input): what it returns for each line is what Redis runs.
func TestInlineSplitsAsRedisDoes(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string // nil: no command (a blank line)
	}{
		{"PING", []string{"PING"}},
		{"set  k\tv ", []string{"set", "k", "v"}},
		{"  \t ", nil},
		{"", nil},
		{`set k "hello world"`, []string{"set", "k", "hello world"}},
		{`set k 'hello world'`, []string{"set", "k", "hello world"}},
		{`set k ""`, []string{"set", "k", ""}},
		{`set k ''`, []string{"set", "k", ""}},
		{`"\n\r\t\b\a\"\\\q"`, []string{"\n\r\t\b\a\"\\q"}},
		{`"\x41\x7a\xFF\x0"`, []string{"Az\xffx0"}},
		{`"\x4g"`, []string{"x4g"}},
		{`'it\'s' 'a\b'`, []string{"it's", `a\b`}},
		{`'say "hi"'`, []string{`say "hi"`}},
		{`"it's"`, []string{"it's"}},
		{`a"b c"`, []string{"ab c"}}, // a quote opens mid-word
		{"a\vb", []string{"a\vb"}},   // \v ends no unquoted word
		{"\va b\f", []string{"a", "b\f"}},
		{"get a\x00b c", []string{"get", "a"}}, // the line ends at NUL, as a C string does
		{"\x00get", nil},
		{"get a\rb", []string{"get", "a", "b"}}, // a CR inside the line separates words
	} {
		r := NewReader(strings.NewReader(tc.line+"\r\nPING\n"), Limits{})
		got, err := readAll(r, 0)
		var want []string
		if tc.want != nil {
			want = append(want, strings.Join(tc.want, " "))
		}
		want = append(want, "PING")
		if err.Error() != "EOF" || !slices.Equal(got, want) {
			t.Errorf("%q: got %q, %v; want %q", tc.line, got, err, want)
		}
		// The argument boundaries, which join above blurs.
		if tc.want != nil {
			r := NewReader(strings.NewReader(tc.line+"\n"), Limits{})
			c, err := r.ReadCommand()
			if err != nil || len(c.Args) != len(tc.want) {
				t.Errorf("%q: %d arguments, %v; want %q", tc.line, len(c.Args), err, tc.want)
				continue
			}
			for i := range c.Args {
				if string(c.Args[i]) != tc.want[i] {
					t.Errorf("%q: argument %d is %q, want %q", tc.line, i, c.Args[i], tc.want[i])
				}
			}
		}
	}
}

func TestInlineUnbalancedQuotes(t *testing.T) {
	for _, line := range []string{`"a`, `'a`, `"a"b`, `'a'b`, `"a\"`, `'a\'`, `"\x41`, "\"a\x00\""} {
		r := NewReader(strings.NewReader(line+"\r\n"), Limits{})
		_, err := r.ReadBatch(0)
		if pe := protocolError(t, err); pe.Msg != "Protocol error: unbalanced quotes in request" {
			t.Errorf("%q: got %v", line, err)
		}
	}
}
