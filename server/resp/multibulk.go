package resp

// The parse follows Redis' processMultibulkBuffer and processInlineBuffer
// (networking.c): a request starting with '*' is an array of bulk
// strings, anything else is an inline line. Where Redis is lax the
// Reader is strict: Redis skips the two bytes after a length line or a
// payload without looking at them, so a client that miscounts a length
// shifts bytes into its next argument unnoticed; here that would be a
// wrong write, replicated to every node, so the CR LF is checked, and an
// array length below -1 is refused. Like Redis, the Reader takes an
// array of length 0 or -1 as no command at all.

// parse completes commands from the buffered bytes until max are in the
// batch (max <= 0: no bound) or the bytes run out.
func (r *Reader) parse(max int) *ProtocolError {
	for max <= 0 || len(r.ends) < max {
		done, err := r.parseCommand()
		if err != nil || !done {
			return err
		}
	}
	return nil
}

// parseCommand advances the command at start as far as the bytes allow,
// and reports whether it completed.
func (r *Reader) parseCommand() (bool, *ProtocolError) {
	for r.argsLeft == 0 {
		if r.pos == r.end {
			return false, nil
		}
		if r.buf[r.pos] != '*' {
			done, blank, err := r.parseInline()
			if blank {
				continue
			}
			return done, err
		}
		n, used, err := r.parseLen(r.pos, "multibulk")
		if err != nil || used == 0 {
			return false, err
		}
		switch {
		case n == 0 || n == -1:
			r.pos += used
			r.start = r.pos
			continue
		case n < 0:
			return false, malformed(r.offset(r.pos), "invalid multibulk length")
		case n > int64(r.lim.ArgsMax):
			return false, tooLarge(r.offset(r.pos), "invalid multibulk length %d: exceeds ArgsMax %d", n, r.lim.ArgsMax)
		}
		r.argsLeft, r.bulkLen = int(n), -1
		r.pos += used
	}
	for r.argsLeft > 0 {
		if r.bulkLen < 0 {
			if ok, err := r.parseBulkHeader(); !ok || err != nil {
				return false, err
			}
		}
		if r.end-r.pos < r.bulkLen+2 {
			return false, nil
		}
		if e := r.pos + r.bulkLen; r.buf[e] != '\r' || r.buf[e+1] != '\n' {
			return false, malformed(r.offset(e), "bulk string of %d bytes not followed by CRLF", r.bulkLen)
		}
		r.spans = append(r.spans, span{r.pos, r.bulkLen})
		r.pos += r.bulkLen + 2
		r.bulkLen = -1
		r.argsLeft--
	}
	r.endCommand()
	return true, nil
}

// parseBulkHeader reads the "$<length>\r\n" at pos, refusing a length
// over the limits before a byte of its payload is read.
func (r *Reader) parseBulkHeader() (bool, *ProtocolError) {
	if r.pos == r.end {
		return false, nil
	}
	if c := r.buf[r.pos]; c != '$' {
		return false, malformed(r.offset(r.pos), "expected '$', got %s", quoteByte(c))
	}
	n, used, err := r.parseLen(r.pos, "bulk")
	if err != nil || used == 0 {
		return false, err
	}
	switch {
	case n < 0:
		return false, malformed(r.offset(r.pos), "invalid bulk length")
	case n > int64(r.lim.BulkBytesMax):
		return false, tooLarge(r.offset(r.pos), "invalid bulk length %d: exceeds BulkBytesMax %d", n, r.lim.BulkBytesMax)
	}
	if size := int64(r.pos+used-r.start) + n + 2; size > int64(r.lim.CommandBytesMax) {
		return false, tooLarge(r.offset(r.pos), "request of at least %d bytes exceeds CommandBytesMax %d", size, r.lim.CommandBytesMax)
	}
	r.bulkLen = int(n)
	r.pos += used
	return true, nil
}

// endCommand closes the command at start, which is complete at pos.
func (r *Reader) endCommand() {
	r.ends = append(r.ends, len(r.spans))
	r.cmdSpan = len(r.spans)
	r.start = r.pos
}

// offset is the stream offset of buf[i].
func (r *Reader) offset(i int) int64 { return r.base + int64(i) }

// parseLen parses the length line at buf[at:] ('*' or '$', an integer, CR
// LF) and returns the integer and the bytes the line takes, or used == 0
// while the line is incomplete. what names the line in errors, in Redis'
// words.
func (r *Reader) parseLen(at int, what string) (n int64, used int, err *ProtocolError) {
	n, used, st := parseInt(r.buf[at+1 : r.end])
	switch st {
	case intShort:
		return 0, 0, nil
	case intBad:
		return 0, 0, malformed(r.offset(at), "invalid %s length", what)
	case intNoLF:
		return 0, 0, malformed(r.offset(at+1+used), "expected '\\n' after '\\r' ending the %s length, got %s", what, quoteByte(r.buf[at+1+used]))
	}
	return n, used + 1, nil
}

type intStatus uint8

const (
	intOK    intStatus = iota
	intShort           // a valid prefix: more bytes are needed
	intBad             // not an integer, whatever follows
	intNoLF            // an integer and CR, then not LF; used counts up to the CR
)

// maxLenDigits bounds the digits of a length: 18 cannot overflow int64,
// and no limit comes near 10^18 bytes.
const maxLenDigits = 18

// parseInt parses a decimal integer ended by CR LF at the start of b, as
// Redis' string2ll accepts it: an optional '-', then "0" or a digit 1-9
// and more digits; here at most maxLenDigits of them. It gives up at the
// first byte that cannot belong, so a garbage length is refused at once
// instead of being buffered while its CR is awaited, and a valid one
// takes at most 21 bytes.
func parseInt(b []byte) (n int64, used int, st intStatus) {
	i, neg := 0, len(b) > 0 && b[0] == '-'
	if neg {
		i = 1
	}
	first := i
	for ; i < len(b) && i-first <= maxLenDigits; i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		n = n*10 + int64(c)
	}
	digits := i - first
	switch {
	case digits > maxLenDigits, digits > 0 && b[first] == '0' && (digits > 1 || neg):
		return 0, 0, intBad // too long, a leading zero, or -0
	case i == len(b):
		return 0, 0, intShort
	case b[i] != '\r' || digits == 0:
		return 0, 0, intBad
	case i+1 == len(b):
		return 0, 0, intShort
	case b[i+1] != '\n':
		return 0, i + 1, intNoLF
	}
	if neg {
		n = -n
	}
	return n, i + 2, intOK
}
