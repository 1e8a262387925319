package kv

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/raftpipe/raftpipe"
)

// A follower forwards what only the leader can do (writes, linearizable
// reads) to the leader over the peer transport (raftpipe.Host.Forward), as
// one request per client burst. The request and its response are encoded
// here; the transport sees opaque bytes.
//
//	request:  version(1) kind(1: write, 2: read) uvarint(group) uvarint(mode) uvarint(n) n×(uvarint(len) bytes)
//	response: version(1) code(0: ok, else a forwardCode) then
//	          ok:    uvarint(n) n×(code(0 ok, else a forwardCode) uvarint(len) bytes)
//	          error: uvarint(leader) uvarint(len) message
//
// An error, of the whole request or of one command, carries its kind, so
// the follower answers its client as if the leader's error were its own
// (-BUSY, -TRYAGAIN: a dropped write may be retried, one of unknown fate
// may not).

const forwardVersion = 1

type forwardKind byte

const (
	forwardWrite forwardKind = 1
	forwardRead  forwardKind = 2
)

// forwardCode is the kind of a whole request's failure.
type forwardCode byte

const (
	codeOK forwardCode = iota
	codeNotLeader
	codeBusy
	codeTimeout
	codeDropped
	codeOther
)

// ErrBadForward wraps every malformed forwarded request or response.
var ErrBadForward = errors.New("kv: malformed forwarded message")

type forwardRequest struct {
	kind  forwardKind
	group uint64
	mode  raftpipe.ReadMode
	items [][]byte // commands or queries
}

func encodeForwardRequest(dst []byte, r forwardRequest) []byte {
	dst = append(dst, forwardVersion, byte(r.kind))
	dst = binary.AppendUvarint(dst, r.group)
	dst = binary.AppendUvarint(dst, uint64(r.mode))
	dst = binary.AppendUvarint(dst, uint64(len(r.items)))
	for _, it := range r.items {
		dst = binary.AppendUvarint(dst, uint64(len(it)))
		dst = append(dst, it...)
	}
	return dst
}

// decodeForwardRequest decodes b; the items alias b.
func decodeForwardRequest(b []byte) (forwardRequest, error) {
	d := forwardDecoder{b: b}
	var r forwardRequest
	if v := d.byte("version"); d.err == nil && v != forwardVersion {
		return r, fmt.Errorf("%w: version %d, want %d", ErrBadForward, v, forwardVersion)
	}
	r.kind = forwardKind(d.byte("kind"))
	r.group = d.uvarint("group")
	r.mode = raftpipe.ReadMode(d.uvarint("read mode"))
	r.items = d.items()
	if d.err == nil && r.kind != forwardWrite && r.kind != forwardRead {
		d.err = fmt.Errorf("%w: kind %d", ErrBadForward, r.kind)
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d bytes after the request", ErrBadForward, len(d.b))
	}
	return r, d.err
}

// encodeForwardResponse encodes either outs or err, the whole request's
// failure.
func encodeForwardResponse(dst []byte, outs []raftpipe.Outcome, err error) []byte {
	dst = append(dst, forwardVersion)
	if err != nil {
		code, leader := errorCode(err)
		dst = append(dst, byte(code))
		dst = binary.AppendUvarint(dst, leader)
		msg := err.Error()
		dst = binary.AppendUvarint(dst, uint64(len(msg)))
		return append(dst, msg...)
	}
	dst = append(dst, byte(codeOK))
	dst = binary.AppendUvarint(dst, uint64(len(outs)))
	for _, o := range outs {
		code, body := codeOK, o.Result
		if o.Err != nil {
			code, _ = errorCode(o.Err)
			body = []byte(o.Err.Error())
		}
		dst = append(dst, byte(code))
		dst = binary.AppendUvarint(dst, uint64(len(body)))
		dst = append(dst, body...)
	}
	return dst
}

// errorCode is err's kind on the wire, and the leader a not-leader error
// names.
func errorCode(err error) (forwardCode, uint64) {
	var nl *raftpipe.NotLeaderError
	switch {
	case errors.As(err, &nl):
		return codeNotLeader, nl.Leader
	case errors.Is(err, raftpipe.ErrNotLeader):
		return codeNotLeader, 0
	case errors.Is(err, raftpipe.ErrBusy):
		return codeBusy, 0
	case errors.Is(err, raftpipe.ErrTimeout):
		return codeTimeout, 0
	case errors.Is(err, raftpipe.ErrProposalDropped):
		return codeDropped, 0
	}
	return codeOther, 0
}

// forwardedError is the leader's failure of a whole forwarded request, as
// the follower reports it: it matches the framework error of its kind.
type forwardedError struct {
	code   forwardCode
	leader uint64
	msg    string
}

func (e *forwardedError) Error() string { return "leader: " + e.msg }

func (e *forwardedError) Is(target error) bool {
	switch e.code {
	case codeNotLeader:
		return target == raftpipe.ErrNotLeader
	case codeBusy:
		return target == raftpipe.ErrBusy
	case codeTimeout:
		return target == raftpipe.ErrTimeout
	case codeDropped:
		return target == raftpipe.ErrProposalDropped
	}
	return false
}

// decodeForwardResponse decodes b into outcomes (results copied out of
// b), or the leader's error for the whole request.
func decodeForwardResponse(b []byte) ([]raftpipe.Outcome, error) {
	d := forwardDecoder{b: b}
	if v := d.byte("version"); d.err == nil && v != forwardVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadForward, v, forwardVersion)
	}
	code := forwardCode(d.byte("code"))
	if d.err != nil {
		return nil, d.err
	}
	if code != codeOK {
		if code > codeOther {
			return nil, fmt.Errorf("%w: error code %d", ErrBadForward, code)
		}
		leader := d.uvarint("leader")
		msg := d.bytes("message")
		if d.err == nil && len(d.b) > 0 {
			d.err = fmt.Errorf("%w: %d bytes after the response", ErrBadForward, len(d.b))
		}
		if d.err != nil {
			return nil, d.err
		}
		return nil, &forwardedError{code: code, leader: leader, msg: string(msg)}
	}
	n := d.count("outcomes", 2)
	outs := make([]raftpipe.Outcome, 0, n)
	for range n {
		code := forwardCode(d.byte("outcome code"))
		body := d.bytes("result")
		if d.err != nil {
			return nil, d.err
		}
		switch {
		case code == codeOK:
			outs = append(outs, raftpipe.Outcome{Result: append([]byte(nil), body...)})
		case code <= codeOther:
			outs = append(outs, raftpipe.Outcome{Err: &forwardedError{code: code, msg: string(body)}})
		default:
			return nil, fmt.Errorf("%w: outcome code %d", ErrBadForward, code)
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d bytes after the response", ErrBadForward, len(d.b))
	}
	return outs, d.err
}

// forwardDecoder reads fields, remembering the first failure.
type forwardDecoder struct {
	b   []byte
	err error
}

func (d *forwardDecoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = fmt.Errorf("%w: truncated before the %s", ErrBadForward, what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *forwardDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad %s", ErrBadForward, what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items of at least minBytes each, checked against
// what remains, so a forged count cannot make the decoder allocate.
func (d *forwardDecoder) count(what string, minBytes int) int {
	n := d.uvarint(what)
	if d.err == nil && n > uint64(len(d.b)/minBytes) {
		d.err = fmt.Errorf("%w: %d %s in %d bytes", ErrBadForward, n, what, len(d.b))
		return 0
	}
	return int(n)
}

func (d *forwardDecoder) bytes(what string) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: %s of %d bytes, %d remain", ErrBadForward, what, n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *forwardDecoder) items() [][]byte {
	n := d.count("items", 1)
	items := make([][]byte, 0, n)
	for range n {
		it := d.bytes("item")
		if d.err != nil {
			return nil
		}
		items = append(items, it)
	}
	return items
}
