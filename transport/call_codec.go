package transport

import (
	"encoding/binary"
	"math"
	"time"
)

// The payloads of the call frames:
//
//	request:  id uvarint (nonzero), deadline uvarint, then the request
//	          bytes to the end of the frame
//	response: id uvarint (nonzero), status byte, then to the end of the
//	          frame the response bytes (callOK) or the error text
//
// The ID is the caller's, unique on its call connection, and the response
// echoes it. The deadline is the microseconds the caller had left when it
// sent the request, 0 for none: a relative time, because the two clocks
// need not agree. The request and response bytes are opaque to the
// transport, so they run to the frame's end without a length of their own;
// the frame's length and checksum cover them.

// callStatus says how a call was answered.
type callStatus uint8

const (
	callOK     callStatus = iota // the handler answered; the rest is its response
	callFailed                   // the handler returned an error; the rest is its text
	callBusy                     // refused unserved; the rest says why
	numCallStatuses
)

// callOverheadBytes is the most a call frame's payload carries beside the
// request or response bytes: two uvarints in a request, one and a status
// byte in a response.
const callOverheadBytes = 2 * binary.MaxVarintLen64

// callErrorTextMax bounds the error text of a response: a handler's error
// explains, it does not carry data.
const callErrorTextMax = 4 << 10

// appendCallRequestHeader appends a request's fields; the request bytes
// follow.
func appendCallRequestHeader(buf []byte, id, deadlineMicros uint64) []byte {
	buf = binary.AppendUvarint(buf, id)
	return binary.AppendUvarint(buf, deadlineMicros)
}

// decodeCallRequest decodes a request payload. The request bytes alias p.
func decodeCallRequest(p []byte) (id, deadlineMicros uint64, req []byte, err error) {
	d := decoder{b: p, ctx: "call request"}
	id = d.uvarint("call ID")
	deadlineMicros = d.uvarint("deadline")
	if d.err == nil && id == 0 {
		d.fail("call ID 0")
	}
	if d.err != nil {
		return 0, 0, nil, d.err
	}
	return id, deadlineMicros, p[d.off:len(p):len(p)], nil
}

// appendCallResponseHeader appends a response's fields; the response
// bytes or error text follow.
func appendCallResponseHeader(buf []byte, id uint64, st callStatus) []byte {
	buf = binary.AppendUvarint(buf, id)
	return append(buf, byte(st))
}

// decodeCallResponse decodes a response payload. What follows the status
// aliases p.
func decodeCallResponse(p []byte) (id uint64, st callStatus, rest []byte, err error) {
	d := decoder{b: p, ctx: "call response"}
	id = d.uvarint("call ID")
	st = callStatus(d.byte("status"))
	switch {
	case d.err != nil:
	case id == 0:
		d.fail("call ID 0")
	case st >= numCallStatuses:
		d.fail("unknown status %d", uint8(st))
	case st != callOK && d.remaining() > callErrorTextMax:
		d.fail("error text of %d bytes, at most %d", d.remaining(), callErrorTextMax)
	}
	if d.err != nil {
		return 0, 0, nil, d.err
	}
	return id, st, p[d.off:len(p):len(p)], nil
}

// deadlineMicros is what a request says of the time ctx leaves: its
// remaining microseconds, rounded up so that a deadline still ahead never
// reads as none.
func deadlineMicros(remaining time.Duration) uint64 {
	us := uint64(remaining / time.Microsecond)
	if remaining%time.Microsecond != 0 {
		us++
	}
	return us
}

// deadlineDuration turns a request's deadline back into a duration, 0 for
// none; a value past what a Duration holds is taken as none.
func deadlineDuration(us uint64) time.Duration {
	if us > math.MaxInt64/uint64(time.Microsecond) {
		return 0
	}
	return time.Duration(us) * time.Microsecond
}

// truncateErrorText cuts s to what a response carries.
func truncateErrorText(s string) string {
	if len(s) > callErrorTextMax {
		return s[:callErrorTextMax]
	}
	return s
}

// callRequestFrame builds a whole request frame, copying req: the caller
// may reuse req once Call returns, even while the frame waits to be
// written.
func callRequestFrame(id, deadlineMicros uint64, req []byte, checksum bool) []byte {
	buf := make([]byte, 0, frameHeaderBytes+callOverheadBytes+len(req))
	buf, off := beginFrame(buf, frameCallRequest)
	buf = appendCallRequestHeader(buf, id, deadlineMicros)
	buf = append(buf, req...)
	finishFrame(buf, off, checksum)
	return buf
}

// callResponseFrame builds a whole response frame.
func callResponseFrame(id uint64, st callStatus, rest []byte, checksum bool) []byte {
	buf := make([]byte, 0, frameHeaderBytes+callOverheadBytes+len(rest))
	buf, off := beginFrame(buf, frameCallResponse)
	buf = appendCallResponseHeader(buf, id, st)
	buf = append(buf, rest...)
	finishFrame(buf, off, checksum)
	return buf
}
