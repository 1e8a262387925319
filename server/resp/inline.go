package resp

import "bytes"

// Inline commands are what telnet, nc and a few tools send: one line of
// words, ended by LF or CR LF. The Reader splits the line as Redis'
// sdssplitargs does, quotes included: "double quotes" with the escapes
// \n \r \t \b \a \xHH and \<any byte>, 'single quotes' with \' alone, a
// closing quote followed by a blank or the end of the line, and a NUL
// ending the line (Redis reads it as a C string).

// parseInline parses the line at start once it has all arrived. A blank
// line is no command, as in Redis: it is consumed and reported as blank.
func (r *Reader) parseInline() (done, blank bool, err *ProtocolError) {
	max := r.lim.InlineBytesMax
	// A line within the limit has its LF at most max+1 bytes in.
	scanEnd := min(r.end, r.start+max+2)
	i := bytes.IndexByte(r.buf[r.start+r.lineScan:scanEnd], '\n')
	if i < 0 {
		if r.end-r.start >= max+2 {
			return false, false, tooLarge(r.offset(r.start), "too big inline request: line longer than InlineBytesMax %d", max)
		}
		r.lineScan = scanEnd - r.start
		return false, false, nil
	}
	lf := r.start + r.lineScan + i
	lineEnd := lf
	if lineEnd > r.start && r.buf[lineEnd-1] == '\r' {
		lineEnd--
	}
	if lineEnd-r.start > max {
		return false, false, tooLarge(r.offset(r.start), "too big inline request: line longer than InlineBytesMax %d", max)
	}
	if nul := bytes.IndexByte(r.buf[r.start:lineEnd], 0); nul >= 0 {
		lineEnd = r.start + nul
	}
	if !r.splitInline(r.start, lineEnd) {
		return false, false, malformed(r.offset(r.start), "unbalanced quotes in request")
	}
	if n := len(r.spans) - r.cmdSpan; n > r.lim.ArgsMax {
		return false, false, tooLarge(r.offset(r.start), "too many arguments in inline request: %d exceeds ArgsMax %d", n, r.lim.ArgsMax)
	}
	// BulkBytesMax bounds every argument, however it came: a handler may
	// rely on it for the size of a key or a value.
	for _, s := range r.spans[r.cmdSpan:] {
		if s.n > r.lim.BulkBytesMax {
			return false, false, tooLarge(r.offset(r.start), "argument of %d bytes in inline request exceeds BulkBytesMax %d", s.n, r.lim.BulkBytesMax)
		}
	}
	r.lineScan = 0
	r.pos = lf + 1
	if len(r.spans) == r.cmdSpan {
		r.start = r.pos
		return false, true, nil
	}
	r.endCommand()
	return true, false, nil
}

// splitInline splits buf[lo:hi] into arguments, appending their spans. It
// decodes quotes in place, which is safe because an argument is never
// longer than the bytes it was written with, and the line is consumed
// whole. It reports false on unbalanced quotes.
func (r *Reader) splitInline(lo, hi int) bool {
	b := r.buf[:hi]
	// at reads as C does: past the end of the line is NUL.
	at := func(i int) byte {
		if i < hi {
			return b[i]
		}
		return 0
	}
	p, w := lo, lo
	for {
		for p < hi && isSpace(b[p]) {
			p++
		}
		if p == hi {
			return true
		}
		argStart := w
		inDouble, inSingle := false, false
		for done := false; !done; {
			c := at(p)
			switch {
			case inDouble:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
					b[w] = unhex(at(p+2))<<4 | unhex(at(p+3))
					w++
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					b[w] = unescape(b[p])
					w++
				case c == '"':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return false
					}
					done = true
				case c == 0:
					return false
				default:
					b[w] = c
					w++
				}
			case inSingle:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					b[w] = '\''
					w++
				case c == '\'':
					if n := at(p + 1); n != 0 && !isSpace(n) {
						return false
					}
					done = true
				case c == 0:
					return false
				default:
					b[w] = c
					w++
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					b[w] = c
					w++
				}
			}
			if p < hi {
				p++
			}
		}
		r.spans = append(r.spans, span{argStart, w - argStart})
	}
}

// isSpace is C's isspace in the C locale, as sdssplitargs uses it to
// skip blanks between arguments (an unquoted argument ends only at space,
// tab, CR, LF: a \v or \f inside one is kept, as in Redis).
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// unescape is the byte a backslash escape inside double quotes stands for.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
