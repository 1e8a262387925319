package resp

import (
	"errors"
	"io"
)

// Command is one request: its name and its arguments, as sent.
type Command struct {
	// Args holds the name (Args[0], in whatever case the client used)
	// and then the arguments; it is never empty. Every slice aliases the
	// Reader's buffer and is valid until the Reader's next ReadBatch or
	// ReadCommand: a caller that keeps one longer copies it. Each has its
	// capacity cut to its length, so an append copies rather than
	// overwriting the next argument.
	Args [][]byte
}

// initialBufferBytes is the buffer a Reader starts with, and shrinks back
// to: Redis' PROTO_IOBUF_LEN, enough for a pipelined burst of small
// commands in one read.
const initialBufferBytes = 16 << 10

// shrinkEveryBatches is how often a Reader checks whether its buffer,
// grown for a large command, can be given back.
const shrinkEveryBatches = 64

// A Reader parses the requests of one connection. It is not safe for
// concurrent use.
type Reader struct {
	rd  io.Reader
	lim Limits

	// buf[start:end] is received but not yet returned as commands. Bytes
	// before start belong to the batch last returned.
	buf   []byte
	start int   // first byte of the command being parsed
	end   int   // end of the received bytes. Invariant: start <= pos <= end <= len(buf).
	base  int64 // stream offset of buf[0], for ProtocolError.Offset

	// Parse state of the command at start, kept across reads so that a
	// command arriving in many pieces is scanned once, not once a piece.
	pos      int // next byte to parse
	argsLeft int // bulk strings the array at start still expects; 0 between commands
	bulkLen  int // length of the bulk whose payload begins at pos; -1 while its $ header is due
	lineScan int // inline: bytes after start already searched for '\n'

	// The batch, as offsets into buf until it is handed out, because buf
	// may move when it grows.
	spans   []span    // arguments: those of complete commands, then those of the command at start
	cmdSpan int       // index in spans of the first argument of the command at start
	ends    []int     // ends[i]: index in spans past the last argument of command i
	args    [][]byte  // reused: the Args of every command handed out
	cmds    []Command // reused: the batch handed out

	perr    *ProtocolError // sticky: nothing after it can be parsed
	readErr error          // the last read's error, returned once its data is used up

	batches int // ReadBatch calls, to space shrink checks
	peak    int // most bytes held at once since the last shrink check
}

// span is one argument's place in buf.
type span struct{ off, n int }

// NewReader returns a Reader of the requests that rd carries. It panics
// if lim fails Validate: limits come from a config that was validated
// when loaded.
func NewReader(rd io.Reader, lim Limits) *Reader {
	return newReaderSize(rd, lim, initialBufferBytes)
}

// newReaderSize lets tests start with a small buffer, to make it grow.
func newReaderSize(rd io.Reader, lim Limits, size int) *Reader {
	if err := lim.Validate(); err != nil {
		panic(err)
	}
	lim = lim.withDefaults()
	return &Reader{rd: rd, lim: lim, buf: make([]byte, min(size, lim.CommandBytesMax)), bulkLen: -1}
}

// ReadBatch returns every complete command already received, at most max
// of them (max <= 0: no bound), reading from the connection only while it
// has none: a pipelined burst comes back as one batch, and a lone command
// as a batch of one.
//
// The commands, and the slices of their Args, are valid until the next
// call. The bytes of a request are never copied: an argument aliases the
// buffer the connection was read into.
//
// Commands received before a bad request are returned first; the
// *ProtocolError follows on the next call, and on every call after. A
// read error also follows the commands received before it, once: io.EOF
// at a command boundary, io.ErrUnexpectedEOF inside a command, any other
// error as the reader returned it.
func (r *Reader) ReadBatch(max int) ([]Command, error) {
	r.beginBatch()
	for {
		if r.perr == nil {
			if err := r.parse(max); err != nil {
				r.perr = err
			}
		}
		if len(r.ends) > 0 {
			return r.batch(), nil
		}
		if r.perr != nil {
			return nil, r.perr
		}
		if err := r.readErr; err != nil {
			r.readErr = nil
			if err == io.EOF && r.end > r.start {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		r.fill()
	}
}

// ReadCommand returns the next command, reading only if none is buffered.
// The command is valid until the next call.
func (r *Reader) ReadCommand() (Command, error) {
	cmds, err := r.ReadBatch(1)
	if err != nil {
		return Command{}, err
	}
	return cmds[0], nil
}

// Buffered is how many bytes have been received but not yet returned as
// commands: further complete commands beyond a ReadBatch's max, and the
// start of one still arriving.
func (r *Reader) Buffered() int { return r.end - r.start }

// beginBatch forgets the batch last returned, whose bytes are now free.
func (r *Reader) beginBatch() {
	n := copy(r.spans, r.spans[r.cmdSpan:])
	r.spans, r.cmdSpan, r.ends = r.spans[:n], 0, r.ends[:0]
	if r.start == r.end {
		// Nothing pending: start over at the front for free.
		r.base += int64(r.end)
		r.start, r.pos, r.end = 0, 0, 0
	}
	r.batches++
	if r.batches%shrinkEveryBatches == 0 {
		r.maybeShrink()
	}
}

// batch hands out the complete commands of this batch, as slices of buf.
func (r *Reader) batch() []Command {
	r.args = r.args[:0]
	for _, s := range r.spans[:r.cmdSpan] {
		r.args = append(r.args, r.buf[s.off:s.off+s.n:s.off+s.n])
	}
	r.cmds = r.cmds[:0]
	lo := 0
	for _, hi := range r.ends {
		r.cmds = append(r.cmds, Command{Args: r.args[lo:hi:hi]})
		lo = hi
	}
	return r.cmds
}

// maxEmptyReads is how many reads in a row may return nothing and no
// error before the reader is taken as broken, as bufio does.
const maxEmptyReads = 100

// fill reads once from the connection. It is called only while no
// command of the batch is complete, so every byte before start is free.
func (r *Reader) fill() {
	if r.start > 0 {
		r.moveTo(r.buf)
	}
	if r.end == len(r.buf) {
		if err := r.grow(); err != nil {
			r.perr = err
			return
		}
	}
	for range maxEmptyReads {
		n, err := r.rd.Read(r.buf[r.end:])
		if n < 0 || n > len(r.buf)-r.end {
			r.readErr = errors.New("resp: reader returned an impossible count")
			return
		}
		r.end += n
		r.peak = max(r.peak, r.end-r.start)
		if n > 0 || err != nil {
			r.readErr = err
			return
		}
	}
	r.readErr = io.ErrNoProgress
}

// grow makes room in a full buffer for the command at its front, which
// has not arrived whole. Doubling, rather than sizing to what a header
// announces, keeps memory in proportion to the bytes actually sent.
func (r *Reader) grow() *ProtocolError {
	held := r.end - r.start
	if held >= r.lim.CommandBytesMax {
		return tooLarge(r.base+int64(r.start), "request of more than %d bytes exceeds CommandBytesMax %d", held, r.lim.CommandBytesMax)
	}
	size := 2 * len(r.buf)
	if r.argsLeft > 0 && r.bulkLen >= 0 {
		// The payload being awaited says exactly how much is needed.
		if need := r.pos - r.start + r.bulkLen + 2; need > held && need < size {
			size = need
		}
	}
	size = max(min(size, r.lim.CommandBytesMax), held+1)
	buf := make([]byte, size)
	r.moveTo(buf)
	return nil
}

// keepArgs is the most arguments whose room a Reader keeps between
// shrink checks; a command or batch with more grows it again.
const keepArgs = 4096

// maybeShrink gives back a buffer that grew for a large command when the
// last batches used a quarter of it or less, so an idle connection holds
// little; and the same for the room made for very many arguments.
// Checking only every few batches keeps a run of large commands from
// paying for a shrink and a regrowth each time.
func (r *Reader) maybeShrink() {
	if cap(r.spans) > keepArgs && len(r.spans) <= keepArgs {
		r.spans = append(make([]span, 0, keepArgs), r.spans...)
	}
	if cap(r.args) > keepArgs {
		r.args, r.cmds, r.ends = nil, nil, nil
	}
	held := r.end - r.start
	used := max(r.peak, held)
	r.peak = 0
	if len(r.buf) <= initialBufferBytes || used > len(r.buf)/4 {
		return
	}
	size := min(max(initialBufferBytes, 2*used), r.lim.CommandBytesMax)
	r.moveTo(make([]byte, size))
}

// moveTo moves the bytes from start on to the front of dst, which may be
// buf itself, and makes dst the buffer.
func (r *Reader) moveTo(dst []byte) {
	d := r.start
	copy(dst, r.buf[r.start:r.end])
	r.buf = dst
	r.base += int64(d)
	r.start, r.pos, r.end = 0, r.pos-d, r.end-d
	for i := r.cmdSpan; i < len(r.spans); i++ {
		r.spans[i].off -= d
	}
}
