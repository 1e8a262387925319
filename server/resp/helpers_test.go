package resp

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// req encodes one request as clients send it.
func req(args ...string) string {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return string(AppendCommand(nil, b))
}

// chunkReader hands out data in pieces of the given sizes (the last size
// repeats), counting its reads.
type chunkReader struct {
	data  []byte
	sizes []int
	reads int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.reads++
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := c.sizes[min(c.reads-1, len(c.sizes)-1)]
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// loopReader repeats data forever, a whole copy per read when p has room:
// a client sending the same burst again and again.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// failReader fails the test if it is read: the Reader must not need it.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Helper()
	f.t.Error("read from the connection when the buffered bytes were enough")
	return 0, errors.New("unexpected read")
}

// readAll reads commands until an error, with batches of at most max,
// and returns them joined ("SET k v") with copies of their bytes.
func readAll(r *Reader, max int) ([]string, error) {
	var got []string
	for {
		cmds, err := r.ReadBatch(max)
		if err != nil {
			return got, err
		}
		if len(cmds) == 0 || (max > 0 && len(cmds) > max) {
			return got, errors.New("ReadBatch returned " + strconv.Itoa(len(cmds)) + " commands and no error")
		}
		for _, c := range cmds {
			got = append(got, join(c))
		}
	}
}

// join renders a command's arguments separated by spaces, for comparison.
func join(c Command) string {
	s := make([]string, len(c.Args))
	for i, a := range c.Args {
		s[i] = string(a)
	}
	return strings.Join(s, " ")
}

// protocolError fails the test unless err is a *ProtocolError, which it
// returns.
func protocolError(t *testing.T, err error) *ProtocolError {
	t.Helper()
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("got error %v, want a *ProtocolError", err)
	}
	return pe
}
