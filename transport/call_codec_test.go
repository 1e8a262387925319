package transport

import (
	"bytes"
	"math"
	"testing"
	"time"
)

func TestCallRequestRoundTrip(t *testing.T) {
	r := newWireRand(t)
	for i := 0; i < 2000; i++ {
		id, dl, req := max(1, randWireValue(r)), randWireValue(r), randBytes(r)
		frame := callRequestFrame(id, dl, req, true)
		typ, p, err := readOneFrame(frame, frameLimits{maxBytes: 1 << 20})
		if err != nil || typ != frameCallRequest {
			t.Fatalf("frame of call %d reads as %s, %v", id, typ, err)
		}
		gotID, gotDL, gotReq, err := decodeCallRequest(p)
		if err != nil {
			t.Fatalf("call %d deadline %d: %v", id, dl, err)
		}
		if gotID != id || gotDL != dl || !bytes.Equal(gotReq, req) {
			t.Fatalf("decoded (%d, %d, %d bytes), want (%d, %d, %d bytes)", gotID, gotDL, len(gotReq), id, dl, len(req))
		}
		if cap(gotReq) != len(gotReq) {
			t.Fatalf("request has capacity %d beyond its %d bytes: appending to it would write into the frame", cap(gotReq), len(gotReq))
		}
	}
}

func TestCallResponseRoundTrip(t *testing.T) {
	r := newWireRand(t)
	for i := 0; i < 2000; i++ {
		id, st := max(1, randWireValue(r)), callStatus(r.IntN(int(numCallStatuses)))
		rest := randBytes(r)
		if st != callOK && len(rest) > callErrorTextMax {
			rest = rest[:callErrorTextMax]
		}
		frame := callResponseFrame(id, st, rest, true)
		typ, p, err := readOneFrame(frame, frameLimits{maxBytes: 1 << 20})
		if err != nil || typ != frameCallResponse {
			t.Fatalf("frame of call %d reads as %s, %v", id, typ, err)
		}
		gotID, gotSt, gotRest, err := decodeCallResponse(p)
		if err != nil {
			t.Fatalf("call %d status %d: %v", id, st, err)
		}
		if gotID != id || gotSt != st || !bytes.Equal(gotRest, rest) {
			t.Fatalf("decoded (%d, %d, %d bytes), want (%d, %d, %d bytes)", gotID, gotSt, len(gotRest), id, st, len(rest))
		}
	}
}

func TestDecodeCallRejectsMalformed(t *testing.T) {
	u := uvarintBytes
	overflow := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}
	for _, c := range []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"id 0", concatBytes(u(0), u(5), []byte("x"))},
		{"truncated id", []byte{0x80}},
		{"missing deadline", u(7)},
		{"overflowing id", concatBytes(overflow, u(0))},
		{"overflowing deadline", concatBytes(u(1), overflow)},
	} {
		t.Run("request/"+c.name, func(t *testing.T) {
			_, _, _, err := decodeCallRequest(c.payload)
			requireErrorIs(t, err, ErrMalformed)
		})
	}
	for _, c := range []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"id 0", concatBytes(u(0), []byte{byte(callOK)})},
		{"missing status", u(9)},
		{"unknown status", concatBytes(u(9), []byte{byte(numCallStatuses)})},
		{"status 255", concatBytes(u(9), []byte{255})},
		{"overflowing id", concatBytes(overflow, []byte{0})},
		{"error text too long", concatBytes(u(9), []byte{byte(callFailed)}, make([]byte, callErrorTextMax+1))},
		{"busy text too long", concatBytes(u(9), []byte{byte(callBusy)}, make([]byte, callErrorTextMax+1))},
	} {
		t.Run("response/"+c.name, func(t *testing.T) {
			_, _, _, err := decodeCallResponse(c.payload)
			requireErrorIs(t, err, ErrMalformed)
		})
	}
}

// A deadline still ahead never reads as none, and one past a Duration's
// range reads as none rather than as a negative time.
func TestCallDeadlineConversion(t *testing.T) {
	for _, d := range []time.Duration{1, time.Microsecond - 1, time.Microsecond, time.Microsecond + 1, 3 * time.Second, 300 * time.Hour} {
		us := deadlineMicros(d)
		if us == 0 {
			t.Fatalf("%v left reads as no deadline", d)
		}
		if back := deadlineDuration(us); back < d || back-d >= time.Microsecond {
			t.Fatalf("%v left reads back as %v", d, back)
		}
	}
	if got := deadlineMicros(math.MaxInt64); got != math.MaxInt64/1000+1 {
		t.Fatalf("the longest Duration reads as %d µs", got)
	}
	if got := deadlineDuration(math.MaxUint64); got != 0 {
		t.Fatalf("a deadline past a Duration's range reads as %v, want none", got)
	}
}
