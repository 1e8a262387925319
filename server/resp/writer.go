package resp

import "io"

// Replies are RESP2, the protocol every client speaks until it asks for
// RESP3 with HELLO 3. Adding RESP3 means a protocol field on Writer, set
// by the HELLO handler: NullBulk and NullArray then write RESP3's "_\r\n",
// and new methods (with their Append functions) write the types RESP3
// adds (map %, set ~, double ',', boolean #, big number (, verbatim =,
// push >), each falling back to its RESP2 shape (a map as a flat array)
// on a RESP2 connection. Requests need nothing: they are arrays of bulk
// strings in both. Until then a server must answer HELLO 3 with an error
// (Redis' is "-NOPROTO"), which makes clients such as go-redis v9 carry
// on in RESP2.

// flushAtBytes is how much a Writer buffers before it writes without
// waiting for Flush: a burst of small replies goes out in one write, and
// a burst of large ones does not pile up in memory.
const flushAtBytes = 64 << 10

// keepBufferBytes is the largest buffer a Writer keeps between bursts; a
// larger one, grown for one large reply, is dropped after its Flush.
const keepBufferBytes = 256 << 10

// A Writer encodes replies into a buffer it reuses, and writes them when
// Flush is called (or once flushAtBytes are waiting), so the replies to a
// batch of commands leave in one write. The encoding methods return
// nothing: the first write error is kept, later replies are dropped, and
// Flush returns it. It is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
	err error
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// SimpleString writes "+s\r\n", as AppendSimpleString.
func (w *Writer) SimpleString(s string) {
	if w.err == nil {
		w.buf = AppendSimpleString(w.buf, s)
		w.maybeFlush()
	}
}

// Error writes "-prefix msg\r\n", as AppendError.
func (w *Writer) Error(prefix, msg string) {
	if w.err == nil {
		w.buf = AppendError(w.buf, prefix, msg)
		w.maybeFlush()
	}
}

// Int writes ":n\r\n".
func (w *Writer) Int(n int64) {
	if w.err == nil {
		w.buf = AppendInt(w.buf, n)
		w.maybeFlush()
	}
}

// Bulk writes b as a bulk string. b is copied: the caller may reuse it
// at once.
func (w *Writer) Bulk(b []byte) {
	if w.err == nil {
		w.buf = AppendBulk(w.buf, b)
		w.maybeFlush()
	}
}

// BulkString writes s as a bulk string.
func (w *Writer) BulkString(s string) {
	if w.err == nil {
		w.buf = AppendBulkString(w.buf, s)
		w.maybeFlush()
	}
}

// NullBulk writes the null bulk string, "$-1\r\n".
func (w *Writer) NullBulk() {
	if w.err == nil {
		w.buf = AppendNullBulk(w.buf)
		w.maybeFlush()
	}
}

// ArrayHeader writes "*n\r\n"; the caller then writes the n elements. It
// panics if n < 0, as AppendArrayHeader.
func (w *Writer) ArrayHeader(n int) {
	if w.err == nil {
		w.buf = AppendArrayHeader(w.buf, n)
		w.maybeFlush()
	}
}

// NullArray writes the null array, "*-1\r\n".
func (w *Writer) NullArray() {
	if w.err == nil {
		w.buf = AppendNullArray(w.buf)
		w.maybeFlush()
	}
}

// Buffered is how many bytes wait for Flush.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush writes the buffered replies with one Write, and returns the first
// write error the Writer met, now or before.
func (w *Writer) Flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	n, err := w.w.Write(w.buf)
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
		w.buf = nil
		return err
	}
	if cap(w.buf) > keepBufferBytes {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return nil
}

func (w *Writer) maybeFlush() {
	if len(w.buf) >= flushAtBytes {
		_ = w.Flush() // kept in w.err for the caller's Flush
	}
}
