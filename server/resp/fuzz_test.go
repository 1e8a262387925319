package resp

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// The fuzz targets check, for any input: no panic; the only errors are
// io.EOF, io.ErrUnexpectedEOF and a *ProtocolError of a known kind whose
// message fits on a reply line; every command and argument is within the
// limits, and so is the buffer; how the bytes are cut into reads and
// batches changes nothing, not even where an error is reported; and what
// parses re-encodes as arrays of bulk strings that parse to the same
// commands.

// fuzzLimits are small, so that the fuzzer reaches every refusal.
var fuzzLimits = Limits{BulkBytesMax: 40, ArgsMax: 6, InlineBytesMax: 48, CommandBytesMax: 128}

// fuzzSeeds are real traffic: redis-cli's handshake and commands, what
// go-redis v9 sends on connect and in a pipeline, redis-benchmark's
// bursts (-P 16, its default 3-byte value and 12-digit keys), inline
// commands from telnet and nc, and a few broken requests.
func fuzzSeeds() []string {
	var bench, get strings.Builder
	for i := range 16 {
		k := "key:" + strings.Repeat("0", 10) + strconv.Itoa(10+i)
		bench.WriteString(req("SET", k, "xxx"))
		get.WriteString(req("GET", k))
	}
	return []string{
		req("COMMAND", "DOCS") + req("PING"),
		req("hello", "3") + req("client", "setinfo", "LIB-NAME", "go-redis(,go1.26.8)") + req("client", "setinfo", "LIB-VER", "9.7.0"),
		req("set", "key", "value") + req("get", "key") + req("del", "key"),
		req("CONFIG", "GET", "save") + req("CONFIG", "GET", "appendonly"),
		bench.String(),
		get.String(),
		req("SET", "k", strings.Repeat("v", 40)),
		"PING\r\n",
		"set foo bar\n",
		"set k \"hello\\x20world\\n\" 'it\\'s'\r\n\r\n",
		"*0\r\n*-1\r\nPING\r\n",
		"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n",
		"*2\r\n$3\r\nGET\r\n+OK\r\n",
		"*1\r\n$3\r\nabcd\r\n",
		"*7\r\n",
		"*1\r\n$41\r\n",
		strings.Repeat("a", 60) + "\r\n",
		"*1\r\n$-1\r\n",
		"*1\r\n$4\r\nPI",
	}
}

func FuzzReader(f *testing.F) {
	for i, s := range fuzzSeeds() {
		f.Add([]byte(s), uint8(i), uint8(i))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk, batch uint8) {
		whole, wholeErr := fuzzRead(t, bytes.NewReader(in), 0)
		cut, cutErr := fuzzRead(t, &chunkReader{data: slices.Clone(in), sizes: []int{int(chunk)%23 + 1, int(chunk)%7 + 1}}, int(batch%4))
		requireSame(t, "whole vs cut", whole, wholeErr, cut, cutErr)
		if len(in) <= 1<<12 {
			one, oneErr := fuzzRead(t, iotest.OneByteReader(bytes.NewReader(in)), 1)
			requireSame(t, "whole vs one byte a read", whole, wholeErr, one, oneErr)
		}

		// Re-encoded as clients send commands, they read the same. The
		// encoding may be longer than the input (an inline line is
		// shorter than its array), so only the command's size limits
		// are raised.
		var re []byte
		for _, c := range whole {
			re = AppendCommand(re, c)
		}
		again, err := fuzzRead(t, bytes.NewReader(re), 0, Limits{BulkBytesMax: fuzzLimits.BulkBytesMax, ArgsMax: fuzzLimits.ArgsMax, CommandBytesMax: 1 << 20})
		if err != io.EOF || !equalCommands(whole, again) {
			t.Fatalf("re-encoded commands read differently:\nfirst  %q\nthen   %q (%v)", whole, again, err)
		}
	})
}

// fuzzRead reads everything from src, checking each batch against the
// limits, and returns copies of the commands and the final error.
func fuzzRead(t *testing.T, src io.Reader, batchMax int, lim ...Limits) ([][][]byte, error) {
	t.Helper()
	l := fuzzLimits
	if len(lim) > 0 {
		l = lim[0]
	}
	r := newReaderSize(src, l, 16)
	var got [][][]byte
	for {
		cmds, err := r.ReadBatch(batchMax)
		if len(r.buf) > max(16, l.CommandBytesMax) {
			t.Fatalf("buffer of %d bytes, over CommandBytesMax %d", len(r.buf), l.CommandBytesMax)
		}
		if err != nil {
			var pe *ProtocolError
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
			case errors.As(err, &pe):
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("protocol error of no known kind: %v", err)
				}
				if strings.ContainsAny(pe.Msg, "\r\n") || !strings.HasPrefix(pe.Msg, "Protocol error: ") {
					t.Fatalf("message %q cannot be the reply", pe.Msg)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return got, err
		}
		if len(cmds) == 0 || (batchMax > 0 && len(cmds) > batchMax) {
			t.Fatalf("batch of %d commands for max %d", len(cmds), batchMax)
		}
		for _, c := range cmds {
			if len(c.Args) == 0 || len(c.Args) > l.ArgsMax {
				t.Fatalf("command of %d arguments, ArgsMax %d", len(c.Args), l.ArgsMax)
			}
			cp := make([][]byte, len(c.Args))
			for i, a := range c.Args {
				if len(a) > l.BulkBytesMax {
					t.Fatalf("argument of %d bytes, BulkBytesMax %d", len(a), l.BulkBytesMax)
				}
				cp[i] = slices.Clone(a)
			}
			got = append(got, cp)
		}
	}
}

func requireSame(t *testing.T, what string, a [][][]byte, aErr error, b [][][]byte, bErr error) {
	t.Helper()
	if !equalCommands(a, b) || !sameError(aErr, bErr) {
		t.Fatalf("%s:\n%q, %v\n%q, %v", what, a, aErr, b, bErr)
	}
}

func equalCommands(a, b [][][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y [][]byte) bool { return slices.EqualFunc(x, y, bytes.Equal) })
}

func sameError(a, b error) bool {
	var pa, pb *ProtocolError
	if errors.As(a, &pa) && errors.As(b, &pb) {
		return *pa == *pb
	}
	return a == b
}

// FuzzInlineQuoting writes arguments as redis-cli's repr quotes them
// (double quotes with escapes), in single quotes, or bare, and checks
// that an inline line reads back as exactly those arguments.
func FuzzInlineQuoting(f *testing.F) {
	f.Add([]byte("SET\x00key\x00hello world"), uint8(0), uint16(0b101))
	f.Add([]byte("set\x00it's\x00\"quoted\"\\\x00\r\n\t\x07\x08\xff"), uint8(0), uint16(0b10110))
	f.Add([]byte("get  a b"), uint8(' '), uint16(0xffff))
	f.Fuzz(func(t *testing.T, in []byte, sep uint8, modes uint16) {
		args := bytes.Split(in, []byte{sep})
		if len(args) > 64 {
			return
		}
		var line []byte
		for i, a := range args {
			if i > 0 {
				line = append(line, ' ')
			}
			switch mode := modes >> (2 * (i % 8)) & 3; {
			case mode == 1 && bare(a) && (i > 0 || a[0] != '*'): // a line starting with '*' is an array
				line = append(line, a...)
			case mode == 2 && singleQuotable(a):
				line = appendSingleQuoted(line, a)
			default:
				line = appendRepr(line, a)
			}
		}
		line = append(line, "\r\n"...)
		lim := Limits{ArgsMax: 64, InlineBytesMax: len(line)}
		r := NewReader(bytes.NewReader(line), lim)
		c, err := r.ReadCommand()
		if err != nil || !slices.EqualFunc(c.Args, args, bytes.Equal) {
			t.Fatalf("line %q read as %q, %v; want %q", line, c.Args, err, args)
		}
	})
}

// appendRepr quotes a as redis-cli and Redis' sdscatrepr do.
func appendRepr(dst, a []byte) []byte {
	dst = append(dst, '"')
	for _, c := range a {
		switch c {
		case '\\', '"':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		case '\a':
			dst = append(dst, `\a`...)
		case '\b':
			dst = append(dst, `\b`...)
		default:
			if c >= 0x20 && c < 0x7f {
				dst = append(dst, c)
			} else {
				dst = append(dst, `\x`...)
				dst = append(dst, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			}
		}
	}
	return append(dst, '"')
}

// singleQuotable: printable, and no backslash, which single quotes keep
// as is and so could not end an argument.
func singleQuotable(a []byte) bool {
	for _, c := range a {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

func appendSingleQuoted(dst, a []byte) []byte {
	dst = append(dst, '\'')
	for _, c := range a {
		if c == '\'' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '\'')
}

// bare: a word that needs no quotes.
func bare(a []byte) bool {
	if len(a) == 0 {
		return false
	}
	for _, c := range a {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\'' {
			return false
		}
	}
	return true
}
