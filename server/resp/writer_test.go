package resp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// countingWriter records each Write.
type countingWriter struct {
	bytes.Buffer
	writes int
	err    error // returned by every Write, if set
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	if c.err != nil {
		return 0, c.err
	}
	return c.Buffer.Write(p)
}

func TestWriterEncodesEveryReply(t *testing.T) {
	var out countingWriter
	w := NewWriter(&out)
	w.SimpleString("OK")
	w.Error("ERR", "unknown command 'FOO'")
	w.Error("BUSY", "region 7 is splitting")
	w.Error("TRYAGAIN", "")
	w.Error("", "MOVED 3999 127.0.0.1:6381")
	w.Int(-42)
	w.Bulk([]byte("a\r\nb"))
	w.Bulk(nil)
	w.BulkString("héllo")
	w.NullBulk()
	w.ArrayHeader(2)
	w.BulkString("x")
	w.Int(1)
	w.ArrayHeader(0)
	w.NullArray()
	if out.writes != 0 {
		t.Fatalf("%d writes before Flush", out.writes)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "+OK\r\n" +
		"-ERR unknown command 'FOO'\r\n" +
		"-BUSY region 7 is splitting\r\n" +
		"-TRYAGAIN\r\n" +
		"-MOVED 3999 127.0.0.1:6381\r\n" +
		":-42\r\n" +
		"$4\r\na\r\nb\r\n" +
		"$0\r\n\r\n" +
		"$6\r\nhéllo\r\n" +
		"$-1\r\n" +
		"*2\r\n$1\r\nx\r\n:1\r\n" +
		"*0\r\n" +
		"*-1\r\n"
	if got := out.String(); got != want || out.writes != 1 {
		t.Fatalf("%d writes of\n%q\nwant 1 of\n%q", out.writes, got, want)
	}
	if err := w.Flush(); err != nil || out.writes != 1 {
		t.Fatalf("an empty Flush wrote (%d writes, %v)", out.writes, err)
	}
}

func TestLineRepliesCannotBreakTheFraming(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.SimpleString("a\r\nb\nc\r")
	w.Error("E\rRR", "bad\r\n+OK")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "+a  b c \r\n-E RR bad  +OK\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestWriterFlushesLargeBurstsOnItsOwn(t *testing.T) {
	var out countingWriter
	w := NewWriter(&out)
	v := strings.Repeat("v", 1000)
	for range 200 {
		w.BulkString(v)
	}
	if out.writes == 0 || w.Buffered() >= flushAtBytes {
		t.Fatalf("%d writes with %d bytes still buffered", out.writes, w.Buffered())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 200*len(AppendBulkString(nil, v)) {
		t.Fatalf("wrote %d bytes", out.Len())
	}
}

func TestWriterDropsABufferGrownForOneLargeReply(t *testing.T) {
	w := NewWriter(&bytes.Buffer{})
	w.Bulk(make([]byte, 1<<20))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if cap(w.buf) > keepBufferBytes {
		t.Fatalf("kept a buffer of %d bytes", cap(w.buf))
	}
}

func TestWriterKeepsTheFirstWriteError(t *testing.T) {
	boom := errors.New("connection reset")
	out := &countingWriter{err: boom}
	w := NewWriter(out)
	w.SimpleString("OK")
	if err := w.Flush(); err != boom {
		t.Fatalf("got %v", err)
	}
	w.SimpleString("OK")
	if err := w.Flush(); err != boom || out.writes != 1 || w.Buffered() != 0 {
		t.Fatalf("after a failed write: %v, %d writes, %d bytes buffered", err, out.writes, w.Buffered())
	}
}

func TestArrayHeaderRefusesNegativeCounts(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an array of -2 elements")
		}
	}()
	NewWriter(&bytes.Buffer{}).ArrayHeader(-2)
}

func TestAppendCommandIsWhatTheReaderReads(t *testing.T) {
	args := [][]byte{[]byte("SET"), []byte(""), []byte("a\r\nb\x00")}
	r := NewReader(bytes.NewReader(AppendCommand(nil, args)), Limits{})
	c, err := r.ReadCommand()
	if err != nil || len(c.Args) != 3 || !bytes.Equal(c.Args[2], args[2]) || len(c.Args[1]) != 0 {
		t.Fatalf("got %q, %v", c.Args, err)
	}
}

func TestShortWriteIsAnError(t *testing.T) {
	w := NewWriter(shortWriter{})
	w.SimpleString("OK")
	if err := w.Flush(); err != io.ErrShortWrite {
		t.Fatalf("got %v, want io.ErrShortWrite", err)
	}
}

// shortWriter writes one byte less than asked, and says nothing.
type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) - 1, nil }
