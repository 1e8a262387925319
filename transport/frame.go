package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A frame is a 16-byte header and a payload:
//
//	0  magic 'R' 'P'
//	2  protocol version
//	3  frame type
//	4  flags
//	5  three reserved bytes, zero
//	8  payload length, little endian uint32
//	12 CRC32C (Castagnoli) over bytes 0..11 and the payload, little endian
//
// The length is checked against the reader's limit before anything is
// allocated, so a hostile length costs nothing. The checksum may be left
// out (flagNoChecksum, field zero) only on a TLS link, whose AEAD already
// authenticates every byte; a receiver refuses an unchecked frame on a
// plaintext link.
const (
	frameHeaderBytes = 16
	frameMagic0      = 'R'
	frameMagic1      = 'P'
	// ProtocolVersion is the version of the frame format and of the
	// payloads; peers must speak the same one.
	ProtocolVersion = 1

	flagNoChecksum = 1 << 0
	knownFlags     = flagNoChecksum

	// MaxFrameBytesLimit is the ceiling of Config.MaxFrameBytes.
	MaxFrameBytesLimit = 1 << 30
	// handshakeFrameBytesMax bounds the frames read before a peer has
	// proved who it is, so an anonymous connection cannot make the
	// receiver allocate a large frame.
	handshakeFrameBytesMax = 4 << 10
)

type frameType uint8

const (
	frameHello          frameType = iota + 1 // both directions: who is speaking (hello.go)
	frameReject                              // acceptor → dialer: why the handshake failed, then close
	frameMessages                            // tagged consensus messages (codec.go)
	frameHeartbeats                          // coalesced heartbeat tuples (heartbeat.go)
	frameHeartbeatResps                      // coalesced heartbeat response tuples
	framePing                                // empty; keeps an idle link proven alive
	frameSnapHeader                          // sender → receiver: which snapshot, how big (snapshot_codec.go)
	frameSnapResume                          // receiver → sender: the offset to resume from
	frameSnapChunk                           // sender → receiver: offset, chunk checksum, data
	frameSnapEnd                             // sender → receiver: checksum of the whole stream
	frameSnapResult                          // receiver → sender: installed, or why not
	frameCallRequest                         // caller → callee: ID, deadline, request (call_codec.go)
	frameCallResponse                        // callee → caller: ID, status, response or error text
	numFrameTypes
)

var frameTypeNames = [numFrameTypes]string{
	frameHello:          "hello",
	frameReject:         "reject",
	frameMessages:       "messages",
	frameHeartbeats:     "heartbeats",
	frameHeartbeatResps: "heartbeat-responses",
	framePing:           "ping",
	frameSnapHeader:     "snapshot-header",
	frameSnapResume:     "snapshot-resume",
	frameSnapChunk:      "snapshot-chunk",
	frameSnapEnd:        "snapshot-end",
	frameSnapResult:     "snapshot-result",
	frameCallRequest:    "call-request",
	frameCallResponse:   "call-response",
}

func (t frameType) String() string {
	if t > 0 && t < numFrameTypes {
		return frameTypeNames[t]
	}
	return fmt.Sprintf("frameType(%d)", uint8(t))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// beginFrame appends a header to be filled in by finishFrame and returns
// the frame's offset in buf.
func beginFrame(buf []byte, t frameType) ([]byte, int) {
	off := len(buf)
	buf = append(buf, frameMagic0, frameMagic1, ProtocolVersion, byte(t), 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0)
	return buf, off
}

// finishFrame fills in the length and checksum of the frame that begins at
// off and runs to the end of buf.
func finishFrame(buf []byte, off int, checksum bool) {
	h := buf[off : off+frameHeaderBytes]
	binary.LittleEndian.PutUint32(h[8:12], uint32(len(buf)-off-frameHeaderBytes))
	if !checksum {
		h[4] |= flagNoChecksum
		return
	}
	crc := crc32.Update(0, castagnoli, h[:12])
	crc = crc32.Update(crc, castagnoli, buf[off+frameHeaderBytes:])
	binary.LittleEndian.PutUint32(h[12:16], crc)
}

// appendFrame appends a whole frame with the given payload.
func appendFrame(buf []byte, t frameType, payload []byte, checksum bool) []byte {
	buf, off := beginFrame(buf, t)
	buf = append(buf, payload...)
	finishFrame(buf, off, checksum)
	return buf
}

// frameLimits says what a reader accepts.
type frameLimits struct {
	maxBytes     int  // the largest payload
	allowNoCheck bool // unchecked frames are accepted (TLS links only)
}

// parseHeader validates a header and returns its type and payload length.
func parseHeader(h []byte, lim frameLimits) (frameType, int, error) {
	if h[0] != frameMagic0 || h[1] != frameMagic1 {
		return 0, 0, fmt.Errorf("%w: header begins % x", ErrBadMagic, h[:4])
	}
	if h[2] != ProtocolVersion {
		return 0, 0, fmt.Errorf("%w: frame version %d, this node speaks %d", ErrVersionMismatch, h[2], ProtocolVersion)
	}
	t := frameType(h[3])
	if t == 0 || t >= numFrameTypes {
		return 0, 0, fmt.Errorf("%w: frame type %d", ErrUnexpectedFrame, h[3])
	}
	if h[4]&^knownFlags != 0 || h[5]|h[6]|h[7] != 0 {
		return 0, 0, fmt.Errorf("%w: unknown flags %#x or reserved bytes % x", ErrMalformed, h[4], h[5:8])
	}
	if h[4]&flagNoChecksum != 0 && !lim.allowNoCheck {
		return 0, 0, fmt.Errorf("%w: %s frame without checksum on a link without TLS", ErrChecksum, t)
	}
	if h[4]&flagNoChecksum != 0 && h[12]|h[13]|h[14]|h[15] != 0 {
		return 0, 0, fmt.Errorf("%w: %s frame without checksum has a nonzero checksum field", ErrMalformed, t)
	}
	n := binary.LittleEndian.Uint32(h[8:12])
	if uint64(n) > uint64(lim.maxBytes) {
		return 0, 0, fmt.Errorf("%w: %s frame of %d bytes, limit %d", ErrFrameTooLarge, t, n, lim.maxBytes)
	}
	return t, int(n), nil
}

func checkFrameCRC(h, payload []byte, t frameType) error {
	if h[4]&flagNoChecksum != 0 {
		return nil
	}
	crc := crc32.Update(0, castagnoli, h[:12])
	crc = crc32.Update(crc, castagnoli, payload)
	if want := binary.LittleEndian.Uint32(h[12:16]); crc != want {
		return fmt.Errorf("%w: %s frame of %d bytes, computed %#08x, header says %#08x", ErrChecksum, t, len(payload), crc, want)
	}
	return nil
}

// readFrame reads one frame. The payload is read into buf when it fits,
// else into a new slice of exactly its length; the caller decides whether
// the result may be kept (decoded entries alias it). A clean end of stream
// before a header is io.EOF; anything cut short is ErrTruncatedFrame; other
// read failures wrap ErrIO.
func readFrame(r io.Reader, hdr *[frameHeaderBytes]byte, lim frameLimits, buf []byte) (frameType, []byte, error) {
	t, payload, err := readFrameUnchecked(r, hdr, lim, buf)
	if err != nil {
		return 0, nil, err
	}
	if err := checkFrameCRC(hdr[:], payload, t); err != nil {
		return 0, nil, err
	}
	return t, payload, nil
}

// readFrameUnchecked is readFrame without the checksum test, for a reader
// that leaves it to the goroutine that decodes.
func readFrameUnchecked(r io.Reader, hdr *[frameHeaderBytes]byte, lim frameLimits, buf []byte) (frameType, []byte, error) {
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		return 0, nil, readError(err, fmt.Sprintf("frame header (%d of %d bytes)", n, frameHeaderBytes))
	}
	t, n, err := parseHeader(hdr[:], lim)
	if err != nil {
		return 0, nil, err
	}
	var payload []byte
	if n <= cap(buf) {
		payload = buf[:n]
	} else {
		payload = make([]byte, n)
	}
	if got, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, readError(err, fmt.Sprintf("%s payload (%d of %d bytes)", t, got, n))
	}
	return t, payload, nil
}

func readError(err error, what string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: stream ended inside the %s", ErrTruncatedFrame, what)
	}
	return fmt.Errorf("%w: reading the %s: %w", ErrIO, what, err)
}
