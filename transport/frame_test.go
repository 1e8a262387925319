package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
)

// validFrameTypes lists every frame type a reader accepts.
func validFrameTypes() []frameType {
	var ts []frameType
	for t := frameType(1); t < numFrameTypes; t++ {
		ts = append(ts, t)
	}
	return ts
}

// readOneFrame reads a single frame from b.
func readOneFrame(b []byte, lim frameLimits) (frameType, []byte, error) {
	var hdr [frameHeaderBytes]byte
	return readFrame(bytes.NewReader(b), &hdr, lim, nil)
}

// testPayload returns n bytes of a recognisable pattern.
func testPayload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return p
}

// TestReadFrameRoundTrip writes frames of every type and of sizes around
// the limit, checked and unchecked, into one stream and reads them back,
// then reads a clean io.EOF.
func TestReadFrameRoundTrip(t *testing.T) {
	const maxBytes = 4096
	type sent struct {
		t       frameType
		payload []byte
		checked bool
	}
	var stream []byte
	var frames []sent
	for _, ft := range validFrameTypes() {
		for _, n := range []int{0, 1, 15, 16, 17, 300, maxBytes - 1, maxBytes} {
			for _, checked := range []bool{true, false} {
				p := testPayload(n)
				stream = appendFrame(stream, ft, p, checked)
				frames = append(frames, sent{ft, p, checked})
			}
		}
	}
	for _, withBuf := range []bool{false, true} {
		r := bytes.NewReader(stream)
		var hdr [frameHeaderBytes]byte
		var buf []byte
		if withBuf {
			buf = make([]byte, 0, 512) // small frames land here, large ones get their own slice
		}
		for i, f := range frames {
			ft, p, err := readFrame(r, &hdr, frameLimits{maxBytes: maxBytes, allowNoCheck: true}, buf)
			if err != nil {
				t.Fatalf("frame %d (%v, %d bytes, checked %t): %v", i, f.t, len(f.payload), f.checked, err)
			}
			if ft != f.t || !bytes.Equal(p, f.payload) {
				t.Fatalf("frame %d: got %v of %d bytes, want %v of %d", i, ft, len(p), f.t, len(f.payload))
			}
			if withBuf && len(p) > 0 && len(p) <= cap(buf) && &p[0] != &buf[:1][0] {
				t.Fatalf("frame %d: a %d-byte payload did not reuse the %d-byte buffer", i, len(p), cap(buf))
			}
			if checked := hdr[4]&flagNoChecksum == 0; checked != f.checked {
				t.Fatalf("frame %d: checked %t, want %t", i, checked, f.checked)
			}
		}
		if _, _, err := readFrame(r, &hdr, frameLimits{maxBytes: maxBytes}, buf); err != io.EOF {
			t.Fatalf("after the last frame: got %v, want io.EOF itself", err)
		}
	}
}

// TestAppendFrameLayout pins the header layout of the format comment.
func TestAppendFrameLayout(t *testing.T) {
	f := appendFrame([]byte("xy"), frameMessages, []byte("abc"), true)[2:]
	want := []byte{'R', 'P', ProtocolVersion, byte(frameMessages), 0, 0, 0, 0, 3, 0, 0, 0}
	if !bytes.Equal(f[:12], want) {
		t.Fatalf("header % x, want % x", f[:12], want)
	}
	if string(f[16:]) != "abc" {
		t.Fatalf("payload %q", f[16:])
	}
	if f[12]|f[13]|f[14]|f[15] == 0 {
		t.Fatal("checked frame has a zero checksum")
	}
	u := appendFrame(nil, frameMessages, []byte("abc"), false)
	if u[4] != flagNoChecksum || !bytes.Equal(u[12:16], []byte{0, 0, 0, 0}) {
		t.Fatalf("unchecked header % x: want flag %d and a zero checksum field", u[:16], flagNoChecksum)
	}
}

// resign recomputes the checksum of the frame in f (header and payload
// as they are), so that a header edit is what the reader sees rather than
// a checksum mismatch.
func resign(f []byte) {
	crc := crc32.Update(0, castagnoli, f[:12])
	crc = crc32.Update(crc, castagnoli, f[frameHeaderBytes:])
	binary.LittleEndian.PutUint32(f[12:16], crc)
}

// TestReadFrameRejects: every way a header or payload can be wrong maps to
// its sentinel.
func TestReadFrameRejects(t *testing.T) {
	const maxBytes = 64
	lim := frameLimits{maxBytes: maxBytes}
	good := func() []byte { return appendFrame(nil, frameMessages, testPayload(20), true) }
	edit := func(f func(h []byte)) []byte {
		b := good()
		f(b)
		return b
	}
	// editSigned changes the header and re-signs it, so only the edit is wrong.
	editSigned := func(f func(h []byte)) []byte {
		b := good()
		f(b)
		resign(b)
		return b
	}
	withLen := func(n uint32) func([]byte) {
		return func(h []byte) { binary.LittleEndian.PutUint32(h[8:12], n) }
	}
	cases := []struct {
		name string
		in   []byte
		lim  frameLimits
		want error
	}{
		{"first magic byte", editSigned(func(h []byte) { h[0] = 'X' }), lim, ErrBadMagic},
		{"second magic byte", editSigned(func(h []byte) { h[1] = 'p' }), lim, ErrBadMagic},
		{"magic swapped", editSigned(func(h []byte) { h[0], h[1] = 'P', 'R' }), lim, ErrBadMagic},
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), lim, ErrBadMagic},
		{"TLS client hello", append([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, make([]byte, 32)...), lim, ErrBadMagic},
		{"all zero header", make([]byte, frameHeaderBytes), lim, ErrBadMagic},
		{"version 0", editSigned(func(h []byte) { h[2] = 0 }), lim, ErrVersionMismatch},
		{"version 2", editSigned(func(h []byte) { h[2] = ProtocolVersion + 1 }), lim, ErrVersionMismatch},
		{"version 255", editSigned(func(h []byte) { h[2] = 255 }), lim, ErrVersionMismatch},
		{"frame type 0", editSigned(func(h []byte) { h[3] = 0 }), lim, ErrUnexpectedFrame},
		{"frame type past the last", editSigned(func(h []byte) { h[3] = byte(numFrameTypes) }), lim, ErrUnexpectedFrame},
		{"frame type 255", editSigned(func(h []byte) { h[3] = 255 }), lim, ErrUnexpectedFrame},
		{"unknown flag 0x02", editSigned(func(h []byte) { h[4] = 0x02 }), lim, ErrMalformed},
		{"unknown flag 0x80", editSigned(func(h []byte) { h[4] = 0x80 }), lim, ErrMalformed},
		{"unknown flag beside no-checksum", edit(func(h []byte) { h[4] = flagNoChecksum | 0x04 }), frameLimits{maxBytes: maxBytes, allowNoCheck: true}, ErrMalformed},
		{"reserved byte 5", editSigned(func(h []byte) { h[5] = 1 }), lim, ErrMalformed},
		{"reserved byte 6", editSigned(func(h []byte) { h[6] = 0x80 }), lim, ErrMalformed},
		{"reserved byte 7", editSigned(func(h []byte) { h[7] = 0xff }), lim, ErrMalformed},
		{"unchecked frame on a plaintext link", appendFrame(nil, frameMessages, testPayload(20), false), lim, ErrChecksum},
		{"unchecked empty frame on a plaintext link", appendFrame(nil, framePing, nil, false), lim, ErrChecksum},
		{"length one over the limit", editSigned(withLen(maxBytes + 1)), lim, ErrFrameTooLarge},
		{"length 2^32-1", editSigned(withLen(1<<32 - 1)), lim, ErrFrameTooLarge},
		{"length over a zero limit", good(), frameLimits{}, ErrFrameTooLarge},
		{"payload cut short", good()[:frameHeaderBytes+19], lim, ErrTruncatedFrame},
		{"payload missing", good()[:frameHeaderBytes], lim, ErrTruncatedFrame},
		{"length beyond the stream", editSigned(withLen(21)), lim, ErrTruncatedFrame},
		{"checksum field flipped", edit(func(h []byte) { h[12] ^= 1 }), lim, ErrChecksum},
		{"checksum field zeroed", edit(func(h []byte) { copy(h[12:16], []byte{0, 0, 0, 0}) }), lim, ErrChecksum},
		{"payload byte flipped", edit(func(h []byte) { h[frameHeaderBytes+5] ^= 0x40 }), lim, ErrChecksum},
		{"last payload bit flipped", edit(func(h []byte) { h[len(h)-1] ^= 0x80 }), lim, ErrChecksum},
		{"frame type changed, not re-signed", edit(func(h []byte) { h[3] = byte(frameHeartbeats) }), lim, ErrChecksum},
		{"length shortened, not re-signed", edit(withLen(19)), lim, ErrChecksum},
	}
	for n := 1; n < frameHeaderBytes; n++ {
		cases = append(cases, struct {
			name string
			in   []byte
			lim  frameLimits
			want error
		}{fmt.Sprintf("header cut at %d", n), good()[:n], lim, ErrTruncatedFrame})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := readOneFrame(c.in, c.lim)
			requireErrorIs(t, err, c.want)
			if k := KindOf(err); k == KindOther || kindErrors[k] != c.want {
				t.Fatalf("KindOf(%v) = %v", err, k)
			}
		})
	}
}

// TestReadFrameCleanEOF: an empty stream is io.EOF itself, unwrapped, so
// a reader loop can tell a peer that hung up between frames from one that
// hung up mid-frame.
func TestReadFrameCleanEOF(t *testing.T) {
	_, _, err := readOneFrame(nil, frameLimits{maxBytes: 10})
	if err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
	_, _, err = readOneFrame([]byte{'R'}, frameLimits{maxBytes: 10})
	requireErrorIs(t, err, ErrTruncatedFrame)
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestReadFrameIOError: a read failure other than the end of the stream
// wraps ErrIO and the cause.
func TestReadFrameIOError(t *testing.T) {
	cause := errors.New("connection reset")
	f := appendFrame(nil, frameMessages, testPayload(10), true)
	for _, cut := range []int{0, 5, frameHeaderBytes, frameHeaderBytes + 3} {
		var hdr [frameHeaderBytes]byte
		_, _, err := readFrame(&failingReader{data: f[:cut], err: cause}, &hdr, frameLimits{maxBytes: 100}, nil)
		requireErrorIs(t, err, ErrIO)
		if !errors.Is(err, cause) {
			t.Fatalf("cut %d: %v does not wrap the cause", cut, err)
		}
	}
}

// headerOnlyReader yields a header and panics if read any further.
type headerOnlyReader struct {
	data []byte
}

func (r *headerOnlyReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		panic("readFrame read past the header of a frame it should have refused")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestReadFrameTooLargeReadsAndAllocatesNothing: a length above the limit
// is refused from the header alone: no byte of the payload is read and
// nothing of its size is allocated.
func TestReadFrameTooLargeReadsAndAllocatesNothing(t *testing.T) {
	for _, length := range []uint32{1<<16 + 1, 1 << 30, 1<<32 - 1} {
		h := appendFrame(nil, frameMessages, nil, true)
		binary.LittleEndian.PutUint32(h[8:12], length)
		lim := frameLimits{maxBytes: 1 << 16}
		var hdr [frameHeaderBytes]byte
		var err error
		read := func() {
			_, _, err = readFrame(&headerOnlyReader{data: h}, &hdr, lim, nil)
		}
		allocs := testing.AllocsPerRun(20, read)
		requireErrorIs(t, err, ErrFrameTooLarge)
		if allocs > 8 {
			t.Fatalf("length %d: %v allocations per refused frame", length, allocs)
		}
		if n := allocatedBytes(func() {
			for i := 0; i < 10; i++ {
				read()
			}
		}); n > 64<<10 {
			t.Fatalf("length %d: 10 refused frames allocated %d bytes", length, n)
		}
	}
}

// TestReadFrameUncheckedFrame: a frame without a checksum is refused on a
// plaintext link and accepted on a TLS link.
func TestReadFrameUncheckedFrame(t *testing.T) {
	f := appendFrame(nil, frameHeartbeats, testPayload(33), false)
	_, _, err := readOneFrame(f, frameLimits{maxBytes: 100})
	requireErrorIs(t, err, ErrChecksum)
	ft, p, err := readOneFrame(f, frameLimits{maxBytes: 100, allowNoCheck: true})
	if err != nil || ft != frameHeartbeats || !bytes.Equal(p, testPayload(33)) {
		t.Fatalf("on a TLS link: %v %v %x", ft, err, p)
	}
	// A checked frame is still verified on a TLS link.
	c := appendFrame(nil, frameHeartbeats, testPayload(33), true)
	c[20] ^= 1
	_, _, err = readOneFrame(c, frameLimits{maxBytes: 100, allowNoCheck: true})
	requireErrorIs(t, err, ErrChecksum)
}

// TestReadFrameUncheckedFrameRequiresZeroChecksumField: the format says an
// unchecked frame has flagNoChecksum and a zero checksum field, and the
// reader enforces every other unused header bit (reserved bytes, unknown
// flags), but it accepts an unchecked frame whose checksum field holds
// anything.
func TestReadFrameUncheckedFrameRequiresZeroChecksumField(t *testing.T) {
	f := appendFrame(nil, frameMessages, testPayload(8), false)
	copy(f[12:16], []byte{1, 2, 3, 4})
	_, _, err := readOneFrame(f, frameLimits{maxBytes: 100, allowNoCheck: true})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("unchecked frame with checksum field 01020304: got %v, want ErrMalformed", err)
	}
}

// TestReadFrameDetectsEverySingleBitFlip flips each bit of a checked
// frame in turn: the reader must refuse every one, each with the sentinel
// of the field the bit belongs to.
func TestReadFrameDetectsEverySingleBitFlip(t *testing.T) {
	const payloadLen = 40
	orig := appendFrame(nil, frameMessages, testPayload(payloadLen), true)
	lim := frameLimits{maxBytes: 1 << 10}
	for bit := 0; bit < len(orig)*8; bit++ {
		f := bytes.Clone(orig)
		f[bit/8] ^= 1 << (bit % 8)
		_, _, err := readOneFrame(f, lim)
		var want []error
		switch i := bit / 8; {
		case i < 2:
			want = []error{ErrBadMagic}
		case i == 2:
			want = []error{ErrVersionMismatch}
		case i == 3: // another type, or none
			want = []error{ErrUnexpectedFrame, ErrChecksum}
		case i == 4: // the no-checksum flag is refused on plaintext, others unknown
			want = []error{ErrMalformed, ErrChecksum}
		case i < 8:
			want = []error{ErrMalformed}
		case i < 12: // a longer frame is cut short or too large, a shorter one fails its checksum
			want = []error{ErrChecksum, ErrTruncatedFrame, ErrFrameTooLarge}
		default:
			want = []error{ErrChecksum}
		}
		ok := false
		for _, w := range want {
			ok = ok || errors.Is(err, w)
		}
		if !ok {
			t.Fatalf("bit %d (byte %d) flipped: got %v, want one of %v", bit, bit/8, err, want)
		}
	}
}

// TestReadFrameReadsOnlyItsFrame: after a frame, the reader is positioned
// at the next one, whatever the buffer.
func TestReadFrameReadsOnlyItsFrame(t *testing.T) {
	stream := appendFrame(nil, framePing, nil, true)
	stream = appendFrame(stream, frameHello, []byte("hi"), true)
	r := bytes.NewReader(stream)
	var hdr [frameHeaderBytes]byte
	buf := make([]byte, 0, 1024)
	if ft, p, err := readFrame(r, &hdr, frameLimits{maxBytes: 10}, buf); err != nil || ft != framePing || len(p) != 0 {
		t.Fatalf("first frame: %v %q %v", ft, p, err)
	}
	if ft, p, err := readFrame(r, &hdr, frameLimits{maxBytes: 10}, buf); err != nil || ft != frameHello || string(p) != "hi" {
		t.Fatalf("second frame: %v %q %v", ft, p, err)
	}
}
