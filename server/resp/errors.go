package resp

import (
	"errors"
	"fmt"
)

// Every *ProtocolError wraps one of these, so a caller can count bad
// input by kind with errors.Is.
var (
	// ErrMalformed: the bytes are not a RESP request (a bad length, a
	// missing CR LF, a wrong type byte, unbalanced quotes).
	ErrMalformed = errors.New("resp: malformed request")
	// ErrTooLarge: a well-formed request over one of the Limits.
	ErrTooLarge = errors.New("resp: request exceeds a limit")
)

// ProtocolError is a request the Reader cannot parse or refuses. No
// command boundary can be trusted after one, so the Reader returns it on
// every call from then on. Redis replies "-ERR <Msg>" and closes the
// connection; so should the caller (Writer.Error("ERR", e.Msg), Flush,
// Close).
type ProtocolError struct {
	// Msg says what was wrong, in Redis' words where Redis has them
	// ("Protocol error: invalid bulk length"); a refusal for size adds
	// the value and the limit it broke. It holds no CR or LF.
	Msg string
	// Offset is where the problem lies in the connection's byte stream:
	// the first byte of the length, line or command that was refused, or
	// the byte that was not what RESP allows there.
	Offset int64
	kind   error // ErrMalformed or ErrTooLarge
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("resp: offset %d: %s", e.Offset, e.Msg)
}

func (e *ProtocolError) Unwrap() error { return e.kind }

func malformed(off int64, format string, args ...any) *ProtocolError {
	return &ProtocolError{Msg: "Protocol error: " + fmt.Sprintf(format, args...), Offset: off, kind: ErrMalformed}
}

func tooLarge(off int64, format string, args ...any) *ProtocolError {
	return &ProtocolError{Msg: "Protocol error: " + fmt.Sprintf(format, args...), Offset: off, kind: ErrTooLarge}
}

// quoteByte shows a byte of client input in a message as Redis does
// ('x'), except that a control byte is escaped: the message goes back to
// the client on one line.
func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(rune(c)) + "'"
	}
	switch c {
	case '\r':
		return `'\r'`
	case '\n':
		return `'\n'`
	}
	return fmt.Sprintf(`'\x%02x'`, c)
}
