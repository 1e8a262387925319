package logstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// A record is a header, a payload and a one-byte trailer:
//
//	offset  size  field
//	     0     4  header checksum: CRC32C of bytes 4..16, xor headerMask
//	     4     4  payload length n
//	     8     4  payload checksum: CRC32C of the type byte and the payload
//	    12     1  type
//	    13     1  flags: flagEndOfWrite on the last record of a write
//	    14     2  zero
//	    16     n  payload
//	  16+n     1  trailer, always 0xFF
//
// Why a header checksum and a trailer, beyond the payload checksum: they
// are what tells a torn tail from corruption. Segments are preallocated,
// so bytes never written read as zeros, and a write cut by a crash leaves
// a prefix of itself followed by zeros. A record cut that way has a zero
// trailer, or a header that is zero from the cut on; a record with a
// flipped bit keeps its trailer (no single flip zeroes 0xFF) and the
// bytes after it. The header checksum makes the length trustworthy, so a
// flip in it cannot pass for a record that runs into the zeros. The mask
// keeps an all-zero header from checking, which is how the end of the data
// is found.
const (
	headerSize   = 16
	trailerSize  = 1
	recordFrame  = headerSize + trailerSize
	trailerByte  = 0xFF
	headerMask   = 0x5a17e0b1
	payloadLimit = 1 << 30 // no record payload is larger; a larger length is corrupt
)

const flagEndOfWrite = 1

// recordType names what a record's payload holds.
type recordType uint8

const (
	recSegment   recordType = iota + 1 // segment header: magic, version, segment id
	recEntries                         // a group's entries, appended after its last index
	recHardState                       // a group's hard state
	recTruncate                        // a group's entries from an index on are removed
	recCompact                         // a group's snapshot taken locally: entries up to it dropped
	recInstall                         // a group's snapshot received: the whole log replaced
	recRelocate                        // a group's live entries copied forward by purge
	recTypeEnd
)

func (t recordType) String() string {
	switch t {
	case recSegment:
		return "segment"
	case recEntries:
		return "entries"
	case recHardState:
		return "hardstate"
	case recTruncate:
		return "truncate"
	case recCompact:
		return "compact"
	case recInstall:
		return "install"
	case recRelocate:
		return "relocate"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// beginRecord appends a header with room for the payload that the caller
// appends next, and returns the header's position in dst.
func beginRecord(dst []byte, t recordType) ([]byte, int) {
	at := len(dst)
	dst = append(dst, make([]byte, headerSize)...)
	dst[at+12] = byte(t)
	return dst, at
}

// finishRecord completes the record whose header starts at at: the
// payload is everything appended since.
func finishRecord(dst []byte, at int) []byte {
	h := dst[at : at+headerSize]
	payload := dst[at+headerSize:]
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(h[12:13], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(h[8:], crc)
	sealHeader(h)
	return append(dst, trailerByte)
}

// markEndOfWrite flags the record whose header starts at at as the last of
// its write.
func markEndOfWrite(buf []byte, at int) {
	buf[at+13] |= flagEndOfWrite
	sealHeader(buf[at : at+headerSize])
}

func sealHeader(h []byte) {
	binary.LittleEndian.PutUint32(h[0:], crc32.Checksum(h[4:headerSize], castagnoli)^headerMask)
}

// header is a decoded record header.
type header struct {
	length uint32
	crc    uint32
	typ    recordType
	flags  uint8
}

// parseHeader decodes h, reporting whether its checksum holds and its
// fields are possible.
func parseHeader(h []byte) (header, bool) {
	if len(h) < headerSize {
		return header{}, false
	}
	if crc32.Checksum(h[4:headerSize], castagnoli)^headerMask != binary.LittleEndian.Uint32(h[0:]) {
		return header{}, false
	}
	hd := header{
		length: binary.LittleEndian.Uint32(h[4:]),
		crc:    binary.LittleEndian.Uint32(h[8:]),
		typ:    recordType(h[12]),
		flags:  h[13],
	}
	if hd.typ == 0 || hd.typ >= recTypeEnd || hd.flags&^flagEndOfWrite != 0 || h[14] != 0 || h[15] != 0 || hd.length > payloadLimit {
		return header{}, false
	}
	return hd, true
}

// recordSize is the size on disk of a record with an n-byte payload.
func recordSize(n uint32) int64 { return int64(n) + recordFrame }

// checkPayload verifies a whole record, rec, whose header hd parsed; it
// names what is wrong.
func checkPayload(hd header, rec []byte) error {
	payload := rec[headerSize : headerSize+int(hd.length)]
	if t := rec[headerSize+int(hd.length)]; t != trailerByte {
		return fmt.Errorf("%w: %s record: trailer %#x, want %#x", ErrCorruptRecord, hd.typ, t, trailerByte)
	}
	crc := crc32.Update(crc32.Checksum(rec[12:13], castagnoli), castagnoli, payload)
	if crc != hd.crc {
		return fmt.Errorf("%w: %s record: payload checksum %#08x, want %#08x", ErrCorruptRecord, hd.typ, crc, hd.crc)
	}
	return nil
}
