package resp

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// small limits make every refusal for size cheap to provoke.
var small = Limits{BulkBytesMax: 10, ArgsMax: 8, InlineBytesMax: 16, CommandBytesMax: 64}

func TestProtocolErrors(t *testing.T) {
	x50 := strings.Repeat("x", 50)
	for _, tc := range []struct {
		name   string
		in     string
		msg    string
		offset int64
		kind   error
		lim    *Limits // small if nil
	}{
		// Redis' own words.
		{"bulk length not a number", "*1\r\n$x\r\n", "Protocol error: invalid bulk length", 4, ErrMalformed, nil},
		{"negative bulk length", "*1\r\n$-1\r\n", "Protocol error: invalid bulk length", 4, ErrMalformed, nil},
		{"bulk length with leading zero", "*1\r\n$03\r\nabc\r\n", "Protocol error: invalid bulk length", 4, ErrMalformed, nil},
		{"empty bulk length", "*1\r\n$\r\n", "Protocol error: invalid bulk length", 4, ErrMalformed, nil},
		{"multibulk length not a number", "*x\r\n", "Protocol error: invalid multibulk length", 0, ErrMalformed, nil},
		{"multibulk length with a plus", "*+1\r\n", "Protocol error: invalid multibulk length", 0, ErrMalformed, nil},
		{"multibulk length with a blank", "* 1\r\n", "Protocol error: invalid multibulk length", 0, ErrMalformed, nil},
		{"empty multibulk length", "*\r\n", "Protocol error: invalid multibulk length", 0, ErrMalformed, nil},
		{"minus zero", "*-0\r\n", "Protocol error: invalid multibulk length", 0, ErrMalformed, nil},
		{"minus alone", "*-\r\n", "Protocol error: invalid multibulk length", 0, ErrMalformed, nil},
		{"multibulk length below -1", "*-2\r\n", "Protocol error: invalid multibulk length", 0, ErrMalformed, nil},
		{"multibulk length over int64", "*99999999999999999999\r\n", "Protocol error: invalid multibulk length", 0, ErrMalformed, nil},
		{"LF alone after the multibulk length", "*1\n$4\nPING\n", "Protocol error: invalid multibulk length", 0, ErrMalformed, nil},
		{"simple string where a bulk is due", "*1\r\n+OK\r\n", "Protocol error: expected '$', got '+'", 4, ErrMalformed, nil},
		{"CR where a bulk is due", "*2\r\n$1\r\na\r\n\r\n", "Protocol error: expected '$', got '\\r'", 11, ErrMalformed, nil},
		{"control byte where a bulk is due", "*1\r\n\x01", "Protocol error: expected '$', got '\\x01'", 4, ErrMalformed, nil},
		{"unbalanced double quote", "set \"a b\r\n", "Protocol error: unbalanced quotes in request", 0, ErrMalformed, nil},
		{"unbalanced single quote", "set 'a b\r\n", "Protocol error: unbalanced quotes in request", 0, ErrMalformed, nil},
		{"text after a closing quote", "set \"a\"b\r\n", "Protocol error: unbalanced quotes in request", 0, ErrMalformed, nil},
		// Where Redis skips what it does not check.
		{"CR without LF after the multibulk length", "*1\rX", "Protocol error: expected '\\n' after '\\r' ending the multibulk length, got 'X'", 3, ErrMalformed, nil},
		{"CR without LF after the bulk length", "*1\r\n$1\rX", "Protocol error: expected '\\n' after '\\r' ending the bulk length, got 'X'", 7, ErrMalformed, nil},
		{"payload longer than its length", "*1\r\n$3\r\nabcd\r\n", "Protocol error: bulk string of 3 bytes not followed by CRLF", 11, ErrMalformed, nil},
		{"payload ended by LF alone", "*1\r\n$3\r\nabc\n\r", "Protocol error: bulk string of 3 bytes not followed by CRLF", 11, ErrMalformed, nil},
		// The position counts the bytes of the commands before.
		{"after other commands", "PING\r\n" + req("GET", "a") + "*1\r\n$x\r\n", "Protocol error: invalid bulk length", 6 + 20 + 4, ErrMalformed, nil},
		// Limits: the value and the limit it broke.
		{"too many arguments", "*9\r\n", "Protocol error: invalid multibulk length 9: exceeds ArgsMax 8", 0, ErrTooLarge, nil},
		{"bulk too long", "*1\r\n$11\r\n", "Protocol error: invalid bulk length 11: exceeds BulkBytesMax 10", 4, ErrTooLarge, nil},
		{"command too long, known from a header", "*4\r\n" + strings.Repeat("$10\r\n0123456789\r\n", 4), "Protocol error: request of at least 72 bytes exceeds CommandBytesMax 64", 55, ErrTooLarge, nil},
		{"command too long, known from a full buffer", "*2\r\n$50\r\n" + x50 + "\r\n$1\r\nx\r\n", "Protocol error: request of more than 64 bytes exceeds CommandBytesMax 64", 0, ErrTooLarge, &Limits{BulkBytesMax: 50, CommandBytesMax: 64, InlineBytesMax: 16}},
		{"inline line too long", strings.Repeat("a", 17) + "\r\n", "Protocol error: too big inline request: line longer than InlineBytesMax 16", 0, ErrTooLarge, nil},
		{"inline line too long, LF alone", strings.Repeat("a", 17) + "\n", "Protocol error: too big inline request: line longer than InlineBytesMax 16", 0, ErrTooLarge, nil},
		{"inline line without end", strings.Repeat("a", 40), "Protocol error: too big inline request: line longer than InlineBytesMax 16", 0, ErrTooLarge, nil},
		{"inline argument too long", "get 0123456789a\r\n", "Protocol error: argument of 11 bytes in inline request exceeds BulkBytesMax 10", 0, ErrTooLarge, nil},
		{"inline line with too many words", "a b c d\r\n", "Protocol error: too many arguments in inline request: 4 exceeds ArgsMax 3", 0, ErrTooLarge, &Limits{ArgsMax: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := small
			if tc.lim != nil {
				lim = *tc.lim
			}
			for _, src := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				_, err := readAll(newReaderSize(src, lim, 16), 0)
				pe := protocolError(t, err)
				if pe.Msg != tc.msg || pe.Offset != tc.offset || !errors.Is(err, tc.kind) {
					t.Fatalf("got %q at offset %d (%v)\nwant %q at offset %d (%v)", pe.Msg, pe.Offset, pe.kind, tc.msg, tc.offset, tc.kind)
				}
				if strings.ContainsAny(pe.Msg, "\r\n") {
					t.Fatalf("message %q would break the reply line", pe.Msg)
				}
			}
		})
	}
}

func TestLimitsAtTheirBoundAreAccepted(t *testing.T) {
	in := req("a", "b", "c", "d", "e", "f", "g", "h") + // 8 arguments in 60 bytes
		req("SET", "0123456789") + // a 10-byte bulk
		"0123456789 abcde\r\n" + // a 16-byte line, a 10-byte word
		"0123456789 abcd\r\r\n" // a 16-byte line ending in CR: the first CR belongs to it
	_, err := readAll(newReaderSize(strings.NewReader(in), small, 16), 0)
	if err != io.EOF {
		t.Fatalf("input at the limits refused: %v", err)
	}
	exact := Limits{CommandBytesMax: 38}
	if _, err := readAll(NewReader(strings.NewReader("*2\r\n$10\r\n0123456789\r\n$10\r\n0123456789\r\n"), exact), 0); err != io.EOF {
		t.Fatalf("command of exactly CommandBytesMax refused: %v", err)
	}
}

func TestBulkOverTheLimitIsRefusedBeforeItsPayloadIsRead(t *testing.T) {
	header := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n"
	r := NewReader(io.MultiReader(strings.NewReader(header), failReader{t}), Limits{BulkBytesMax: 1 << 16})
	_, err := r.ReadBatch(0)
	if pe := protocolError(t, err); !errors.Is(err, ErrTooLarge) || pe.Msg != "Protocol error: invalid bulk length 1000000: exceeds BulkBytesMax 65536" {
		t.Fatalf("got %v", err)
	}
	if len(r.buf) != initialBufferBytes {
		t.Fatalf("buffer grew to %d bytes for a refused bulk", len(r.buf))
	}
}

func TestEndlessInputIsRefusedWithinTheLimits(t *testing.T) {
	lim := Limits{CommandBytesMax: 1 << 16, BulkBytesMax: 1 << 10, InlineBytesMax: 1 << 10}
	for _, tc := range []struct {
		name, head, loop string
		kind             error
	}{
		{"empty bulks", "*1000000\r\n", "$0\r\n\r\n", ErrTooLarge},
		{"an inline line without end", "", "word ", ErrTooLarge},
		{"a multibulk length without end", "*", "1", ErrMalformed},
		{"a bulk length without end", "*1\r\n$", "1", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReaderSize(io.MultiReader(strings.NewReader(tc.head), &loopReader{data: []byte(tc.loop)}), lim, 64)
			_, err := readAll(r, 0)
			if protocolError(t, err); !errors.Is(err, tc.kind) {
				t.Fatalf("got %v, want %v", err, tc.kind)
			}
			if len(r.buf) > lim.CommandBytesMax {
				t.Fatalf("buffer of %d bytes, over CommandBytesMax %d", len(r.buf), lim.CommandBytesMax)
			}
		})
	}
}

func TestProtocolErrorText(t *testing.T) {
	_, err := readAll(NewReader(strings.NewReader("PING\r\n*1\r\n$x\r\n"), Limits{}), 0)
	if got, want := err.Error(), "resp: offset 10: Protocol error: invalid bulk length"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
