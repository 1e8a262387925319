package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
)

// The fuzz targets check, for any input: no panic; a failure wraps one of
// the package's sentinels (a payload decoder's, ErrMalformed); a success
// re-encodes to a value that decodes the same, and to the same bytes
// unless the input used longer varints than needed (binary.Uvarint
// accepts those, so the codec is canonical only up to varint length: the
// re-encoding is then strictly shorter); and what was decoded is bounded
// by the input's size, so a small input cannot make a large allocation.

// fuzzSeedMessages returns a few messages of every type, built from a
// fixed seed so the corpus is stable.
func fuzzSeedMessages() []Msg {
	r := rand.New(rand.NewPCG(1, 2))
	var msgs []Msg
	for typ := consensus.MsgApp; typ <= consensus.MsgTimeoutNow; typ++ {
		for i := 0; i < 3; i++ {
			msgs = append(msgs, randWireMsg(r, typ))
		}
	}
	return msgs
}

// fuzzSeedStream returns real frames as the writer and the handshake write
// them: messages, heartbeats, responses, a ping, a hello and a reject.
func fuzzSeedStream(checksum bool) []byte {
	w := newTestWriter(1, 2, 1<<16, checksum)
	for _, m := range fuzzSeedMessages() {
		_ = w.add(&m) // the odd one too large for 64 KiB is refused
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5; i++ {
		hb, resp := randHeartbeat(r, false), randHeartbeat(r, true)
		_ = w.add(&hb)
		_ = w.add(&resp)
	}
	w.ping = true
	var stream []byte
	for _, b := range w.buffers() {
		stream = append(stream, b...)
	}
	stream = appendFrame(stream, frameHello, appendHello(nil, hello{version: ProtocolVersion, cluster: 9, from: 1, to: 2, kind: connRaft}), checksum)
	stream = appendFrame(stream, frameReject, appendReject(nil, KindClusterMismatch, "cluster 9, this node in 8"), checksum)
	stream = append(stream, callRequestFrame(1, 250000, []byte("*1\r\n$4\r\nPING\r\n"), checksum)...)
	stream = append(stream, callResponseFrame(1, callOK, []byte("+PONG\r\n"), checksum)...)
	stream = append(stream, callResponseFrame(2, callBusy, []byte("node 2 is serving 1024 calls"), checksum)...)
	return stream
}

// requireSentinel fails unless err wraps one of the package's sentinels.
func requireSentinel(t *testing.T, err error) {
	t.Helper()
	if KindOf(err) == KindOther {
		t.Fatalf("error wraps no sentinel: %v", err)
	}
}

// requireMalformed fails unless a payload decoder's err is ErrMalformed.
func requireMalformed(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) || KindOf(err) != KindMalformed {
		t.Fatalf("payload decoder failed with %v, want ErrMalformed", err)
	}
}

// requireCanonical fails unless re, the re-encoding of what was decoded
// from in, is in itself, or shorter (in had overlong varints).
func requireCanonical(t *testing.T, what string, in, re []byte) {
	t.Helper()
	if !bytes.Equal(in, re) && len(re) >= len(in) {
		t.Fatalf("%s: two encodings of the same value:\n input      %x\n re-encoded %x", what, in, re)
	}
}

// checkMessagesPayload decodes a messages payload and checks the fuzz
// properties.
func checkMessagesPayload(t *testing.T, payload []byte) {
	msgs, from, to, err := decodeMessages(payload, nil)
	if err != nil {
		requireMalformed(t, err)
		return
	}
	// Everything decoded takes input bytes: a message at least 3 (group,
	// type, field set), an entry minEntryBytes, an ID one.
	entries, ids := 0, 0
	for i := range msgs {
		m := &msgs[i]
		if m.From != from || m.To != to {
			t.Fatalf("message %d from %d to %d in a frame from %d to %d", i, m.From, m.To, from, to)
		}
		entries += len(m.Entries)
		if m.Entries != nil && len(m.Entries) == 0 {
			t.Fatalf("message %d has empty non-nil entries", i)
		}
		if s := m.Snapshot; s != nil {
			ids += len(s.Membership.Voters) + len(s.Membership.Learners)
		}
	}
	if 3*len(msgs)+minEntryBytes*entries+ids > len(payload) {
		t.Fatalf("%d bytes decoded to %d messages, %d entries, %d IDs", len(payload), len(msgs), entries, ids)
	}
	re := appendMessagesHeader(nil, from, to)
	for i := range msgs {
		if re, err = appendMessage(re, &msgs[i]); err != nil {
			t.Fatalf("decoded message %d cannot be encoded: %v\n%s", i, err, dumpMsg(msgs[i]))
		}
	}
	again, from2, to2, err := decodeMessages(re, nil)
	if err != nil {
		t.Fatalf("re-encoded payload does not decode: %v", err)
	}
	if from2 != from || to2 != to || !reflect.DeepEqual(again, msgs) {
		t.Fatalf("re-encoded payload decodes differently")
	}
	requireCanonical(t, "messages", payload, re)
}

// checkHeartbeatsPayload decodes a heartbeats (or responses) payload and
// checks the fuzz properties.
func checkHeartbeatsPayload(t *testing.T, payload []byte, resp bool) {
	hbs, from, to, err := decodeHeartbeats(payload, resp, nil)
	if err != nil {
		requireMalformed(t, err)
		return
	}
	tuple := 4
	if resp {
		tuple = 3
	}
	if tuple*len(hbs) > len(payload) {
		t.Fatalf("%d bytes decoded to %d tuples", len(payload), len(hbs))
	}
	re := appendMessagesHeader(nil, from, to)
	for i := range hbs {
		m := &hbs[i]
		// What a tuple decodes to must be what the writer coalesces, or a
		// relay would change its encoding.
		if resp && !isCoalescibleHeartbeatResp(m) || !resp && !isCoalescibleHeartbeat(m) {
			t.Fatalf("decoded tuple %d is not coalescible: %s", i, dumpMsg(*m))
		}
		if m.From != from || m.To != to {
			t.Fatalf("tuple %d from %d to %d in a frame from %d to %d", i, m.From, m.To, from, to)
		}
		re = appendHeartbeatTuple(re, m, resp)
	}
	again, _, _, err := decodeHeartbeats(re, resp, nil)
	if err != nil || !reflect.DeepEqual(again, hbs) {
		t.Fatalf("re-encoded tuples decode differently (%v)", err)
	}
	requireCanonical(t, "heartbeats", payload, re)
}

// checkHelloPayload decodes a hello payload and checks the fuzz properties.
func checkHelloPayload(t *testing.T, payload []byte) {
	h, err := decodeHello(payload)
	if err != nil {
		requireMalformed(t, err)
		return
	}
	if h.from == 0 || h.to == 0 || !h.kind.valid() {
		t.Fatalf("decoded an invalid hello %+v", h)
	}
	re := appendHello(nil, h)
	if again, err := decodeHello(re); err != nil || again != h {
		t.Fatalf("re-encoded hello %+v decodes to %+v, %v", h, again, err)
	}
	requireCanonical(t, "hello", payload, re)
	if err := h.check(9, h.to); err != nil {
		requireSentinel(t, err)
	}
}

// checkRejectPayload decodes a reject payload: it is always an error,
// ErrRejected for a well-formed one, else ErrMalformed.
func checkRejectPayload(t *testing.T, payload []byte) {
	err := decodeReject(payload)
	if err == nil {
		t.Fatal("decodeReject returned nil")
	}
	if !errors.Is(err, ErrRejected) {
		requireMalformed(t, err)
		return
	}
	// Well formed: a kind byte, a length and the reason.
	n, k := binary.Uvarint(payload[1:])
	reason := payload[1+k : 1+k+int(n)]
	if len(reason) <= rejectReasonMax {
		if again := decodeReject(appendReject(nil, ErrorKind(payload[0]), string(reason))); again.Error() != err.Error() {
			t.Fatalf("re-encoded reject decodes to %q, want %q", again, err)
		}
	}
}

// checkCallRequestPayload decodes a call request payload and checks the
// fuzz properties.
func checkCallRequestPayload(t *testing.T, payload []byte) {
	id, deadline, req, err := decodeCallRequest(payload)
	if err != nil {
		requireMalformed(t, err)
		return
	}
	if id == 0 || len(req) > len(payload)-2 || cap(req) != len(req) {
		t.Fatalf("%d bytes decoded to call %d with a request of %d bytes (capacity %d)", len(payload), id, len(req), cap(req))
	}
	re := append(appendCallRequestHeader(nil, id, deadline), req...)
	id2, deadline2, req2, err := decodeCallRequest(re)
	if err != nil || id2 != id || deadline2 != deadline || !bytes.Equal(req2, req) {
		t.Fatalf("re-encoded request decodes differently (%v)", err)
	}
	requireCanonical(t, "call request", payload, re)
}

// checkCallResponsePayload decodes a call response payload and checks the
// fuzz properties.
func checkCallResponsePayload(t *testing.T, payload []byte) {
	id, st, rest, err := decodeCallResponse(payload)
	if err != nil {
		requireMalformed(t, err)
		return
	}
	if id == 0 || st >= numCallStatuses || len(rest) > len(payload)-2 || cap(rest) != len(rest) {
		t.Fatalf("%d bytes decoded to call %d, status %d, %d bytes (capacity %d)", len(payload), id, st, len(rest), cap(rest))
	}
	if st != callOK && len(rest) > callErrorTextMax {
		t.Fatalf("status %d with %d bytes of error text", st, len(rest))
	}
	re := append(appendCallResponseHeader(nil, id, st), rest...)
	id2, st2, rest2, err := decodeCallResponse(re)
	if err != nil || id2 != id || st2 != st || !bytes.Equal(rest2, rest) {
		t.Fatalf("re-encoded response decodes differently (%v)", err)
	}
	requireCanonical(t, "call response", payload, re)
}

// checkFramePayload decodes a payload by its frame type.
func checkFramePayload(t *testing.T, ft frameType, payload []byte) {
	switch ft {
	case frameMessages:
		checkMessagesPayload(t, payload)
	case frameHeartbeats:
		checkHeartbeatsPayload(t, payload, false)
	case frameHeartbeatResps:
		checkHeartbeatsPayload(t, payload, true)
	case frameHello:
		checkHelloPayload(t, payload)
	case frameReject:
		checkRejectPayload(t, payload)
	case frameCallRequest:
		checkCallRequestPayload(t, payload)
	case frameCallResponse:
		checkCallResponsePayload(t, payload)
	}
	// Ping and snapshot payloads have their own decoders, elsewhere.
}

// FuzzReadFrame reads frames from the input until it fails or ends, and
// decodes each payload by its type.
func FuzzReadFrame(f *testing.F) {
	f.Add(fuzzSeedStream(true), false)
	f.Add(fuzzSeedStream(false), true)
	f.Add(fuzzSeedStream(false), false)
	f.Add([]byte{}, false)
	f.Add(appendFrame(nil, framePing, nil, true), false)
	f.Add([]byte("RP\x01\x03\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00"), true) // length 2^32-1
	bad := fuzzSeedStream(true)
	bad[len(bad)/2] ^= 0x10
	f.Add(bad, false)
	f.Fuzz(func(t *testing.T, data []byte, allowNoCheck bool) {
		lim := frameLimits{maxBytes: 1 << 16, allowNoCheck: allowNoCheck}
		r := bytes.NewReader(data)
		var hdr [frameHeaderBytes]byte
		buf := make([]byte, 0, 256) // small payloads land in it, large ones do not
		for {
			start := len(data) - r.Len()
			ft, payload, err := readFrame(r, &hdr, lim, buf)
			if err == io.EOF {
				if start != len(data) {
					t.Fatalf("io.EOF at byte %d of %d", start, len(data))
				}
				return
			}
			if err != nil {
				requireSentinel(t, err)
				if errors.Is(err, ErrIO) {
					t.Fatalf("ErrIO from a bytes.Reader: %v", err)
				}
				return
			}
			raw := data[start : len(data)-r.Len()]
			if len(payload) > lim.maxBytes || len(raw) != frameHeaderBytes+len(payload) || !bytes.Equal(raw[frameHeaderBytes:], payload) {
				t.Fatalf("%v frame: %d-byte payload from %d bytes read", ft, len(payload), len(raw))
			}
			checked := raw[4]&flagNoChecksum == 0
			if !checked && !allowNoCheck {
				t.Fatal("an unchecked frame passed a reader that refuses them")
			}
			// The header is canonical: rebuilding the frame gives the
			// same bytes. (An unchecked frame's checksum field is not
			// compared: see TestReadFrameUncheckedFrameRequiresZeroChecksumField.)
			re := appendFrame(nil, ft, payload, checked)
			if checked && !bytes.Equal(re, raw) || !bytes.Equal(re[:12], raw[:12]) {
				t.Fatalf("%v frame re-encodes differently:\n read     %x\n rebuilt  %x", ft, raw[:frameHeaderBytes], re[:frameHeaderBytes])
			}
			checkFramePayload(t, ft, payload)
		}
	})
}

// fuzzMessagesPayloads returns real messages payloads.
func fuzzMessagesPayloads(t testing.TB) [][]byte {
	msgs := fuzzSeedMessages()
	out := [][]byte{appendMessagesHeader(nil, 1, 2)}
	for i := range msgs {
		out = append(out, encodeMessagesPayload(t, 1, 2, msgs[i:i+1]))
	}
	out = append(out, encodeMessagesPayload(t, 1<<40, 3, msgs))
	return out
}

func FuzzDecodeMessages(f *testing.F) {
	for _, p := range fuzzMessagesPayloads(f) {
		f.Add(p)
	}
	u := uvarintBytes
	f.Add(concatBytes(u(1), u(2), u(7), []byte{byte(consensus.MsgApp)}, u(fieldEntries), u(1<<60), u(1), []byte{1, 0, 0})) // hostile count
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkMessagesPayload(t, payload)
	})
}

func FuzzDecodeHeartbeats(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, resp := range []bool{false, true} {
		p := appendMessagesHeader(nil, 1, 2)
		f.Add(bytes.Clone(p), resp)
		for i := 0; i < 4; i++ {
			m := randHeartbeat(r, resp)
			p = appendHeartbeatTuple(p, &m, resp)
			f.Add(bytes.Clone(p), resp)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, resp bool) {
		checkHeartbeatsPayload(t, payload, resp)
	})
}

func FuzzDecodeHello(f *testing.F) {
	f.Add(appendHello(nil, hello{version: ProtocolVersion, cluster: 9, from: 1, to: 2, kind: connRaft}))
	f.Add(appendHello(nil, hello{version: 1 << 40, cluster: 1<<64 - 1, from: 1<<64 - 1, to: 300, kind: connSnapshot}))
	f.Add([]byte{1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkHelloPayload(t, payload)
	})
}

func FuzzDecodeReject(f *testing.F) {
	f.Add(appendReject(nil, KindClusterMismatch, "cluster 9, this node in 8"))
	f.Add(appendReject(nil, KindWrongNode, ""))
	f.Add(appendReject(nil, 255, string(make([]byte, rejectReasonMax))))
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkRejectPayload(t, payload)
	})
}

func FuzzDecodeCallRequest(f *testing.F) {
	u := uvarintBytes
	f.Add(concatBytes(u(1), u(0)))
	f.Add(concatBytes(u(1), u(250000), []byte("*1\r\n$4\r\nPING\r\n")))
	f.Add(concatBytes(u(1<<63), u(1<<64-1), make([]byte, 300)))
	f.Add(concatBytes(u(0), u(5), []byte("x"))) // ID 0
	f.Add([]byte{0x81, 0x00, 0x00})             // an overlong ID
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkCallRequestPayload(t, payload)
	})
}

func FuzzDecodeCallResponse(f *testing.F) {
	u := uvarintBytes
	for st := range numCallStatuses + 1 {
		f.Add(concatBytes(u(7), []byte{byte(st)}, []byte("+OK\r\n")))
	}
	f.Add(concatBytes(u(1<<64-1), []byte{byte(callOK)}))
	f.Add(concatBytes(u(3), []byte{byte(callFailed)}, make([]byte, callErrorTextMax)))
	f.Add(concatBytes(u(3), []byte{byte(callFailed)}, make([]byte, callErrorTextMax+1)))
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkCallResponsePayload(t, payload)
	})
}
