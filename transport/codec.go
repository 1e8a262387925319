package transport

import (
	"encoding/binary"
	"fmt"

	"github.com/raftpipe/raftpipe/consensus"
)

// Msg is a consensus message tagged with the group it belongs to: the
// unit the transport multiplexes over one connection.
type Msg struct {
	Group uint64
	consensus.Message
}

// A messages frame's payload is the sending and the receiving node, then
// messages until the payload ends:
//
//	from, to                uvarint
//	repeated:
//	  group                 uvarint
//	  type                  byte
//	  present               uvarint: a bit per field below that is set
//	  term ... context      uvarint each, only those present, in bit order
//	  entries (if present)  count, index of the first, then per entry
//	                        term uvarint, type byte, data length uvarint, data
//	  snapshot (if present) index, term, voter count, voters, learner
//	                        count, learners, all uvarint
//
// From and To travel once per frame because every message on a connection
// goes from its dialer to its acceptor. Entries are contiguous (a Raft
// log's are), so only the first index is sent. Zero fields cost nothing.
const (
	fieldTerm = 1 << iota
	fieldLogTerm
	fieldIndex
	fieldCommit
	fieldRejectHint
	fieldRound
	fieldContext
	fieldReject
	fieldForce
	fieldEntries
	fieldSnapshot
	knownFields = 1<<iota - 1
)

// appendMessagesHeader starts a messages or heartbeats payload.
func appendMessagesHeader(buf []byte, from, to uint64) []byte {
	buf = binary.AppendUvarint(buf, from)
	return binary.AppendUvarint(buf, to)
}

// appendMessage appends m's encoding. It fails only for a message the
// codec cannot carry: an unknown type or entries that are not contiguous.
func appendMessage(buf []byte, m *Msg) ([]byte, error) {
	if !m.Type.Valid() {
		return buf, fmt.Errorf("%w: cannot encode message type %d", ErrMalformed, m.Type)
	}
	// Refuse here what the decoder would refuse, or the receiver would drop
	// the whole frame with the good messages in it.
	if n := len(m.Entries); n > 0 && m.Entries[0].Index > ^uint64(0)-uint64(n-1) {
		return buf, fmt.Errorf("%w: %s entry indexes overflow from %d", ErrMalformed, m.Type, m.Entries[0].Index)
	}
	for i := range m.Entries {
		if e := &m.Entries[i]; e.Index != m.Entries[0].Index+uint64(i) {
			return buf, fmt.Errorf("%w: %s entries not contiguous at %d", ErrMalformed, m.Type, e.Index)
		} else if e.Type > consensus.EntryMembership {
			return buf, fmt.Errorf("%w: entry %d has unknown type %d", ErrMalformed, e.Index, uint8(e.Type))
		}
	}
	nums := [...]uint64{m.Term, m.LogTerm, m.Index, m.Commit, m.RejectHint, m.Round, m.Context}
	var present uint64
	for i, v := range nums {
		if v != 0 {
			present |= 1 << i
		}
	}
	if m.Reject {
		present |= fieldReject
	}
	if m.Force {
		present |= fieldForce
	}
	if len(m.Entries) > 0 {
		present |= fieldEntries
	}
	if m.Snapshot != nil {
		present |= fieldSnapshot
	}
	buf = binary.AppendUvarint(buf, m.Group)
	buf = append(buf, byte(m.Type))
	buf = binary.AppendUvarint(buf, present)
	for _, v := range nums {
		if v != 0 {
			buf = binary.AppendUvarint(buf, v)
		}
	}
	if len(m.Entries) > 0 {
		buf = binary.AppendUvarint(buf, uint64(len(m.Entries)))
		buf = binary.AppendUvarint(buf, m.Entries[0].Index)
		for i := range m.Entries {
			e := &m.Entries[i]
			buf = binary.AppendUvarint(buf, e.Term)
			buf = append(buf, byte(e.Type))
			buf = binary.AppendUvarint(buf, uint64(len(e.Data)))
			buf = append(buf, e.Data...)
		}
	}
	if s := m.Snapshot; s != nil {
		buf = binary.AppendUvarint(buf, s.Index)
		buf = binary.AppendUvarint(buf, s.Term)
		buf = appendIDs(buf, s.Membership.Voters)
		buf = appendIDs(buf, s.Membership.Learners)
	}
	return buf, nil
}

func appendIDs(buf []byte, ids []uint64) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(ids)))
	for _, id := range ids {
		buf = binary.AppendUvarint(buf, id)
	}
	return buf
}

// decoder reads a payload without ever trusting a count or length beyond
// the bytes that remain; the first failure sticks.
type decoder struct {
	b   []byte
	off int
	err error
	ctx string // what is being decoded, for the error
	// slab is where entries are carved from: one allocation serves the
	// entries of many messages of a frame instead of one each.
	slab []consensus.Entry
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d: %s", ErrMalformed, d.ctx, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint for %s", what)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("missing %s", what)
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

// bytes returns n bytes aliasing the payload, or nil when n is zero.
func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(d.remaining()) {
		d.fail("%s of %d bytes with %d left", what, n, d.remaining())
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return v
}

// count reads a count of items that each take at least minBytes, and
// refuses one that the remaining bytes could not hold: this is what keeps
// a hostile count from allocating.
func (d *decoder) count(minBytes int, what string) int {
	n := d.uvarint(what)
	if d.err == nil && n > uint64(d.remaining()/minBytes) {
		d.fail("%s %d with only %d bytes left", what, n, d.remaining())
		return 0
	}
	return int(n)
}

func (d *decoder) ids(what string) []uint64 {
	n := d.count(1, what)
	if n == 0 {
		return nil
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = d.uvarint(what)
	}
	return ids
}

// decodeMessages decodes a messages payload, appending to dst. Entry data
// aliases payload, which the caller must therefore not reuse, and entries
// of different messages share one allocation.
func decodeMessages(payload []byte, dst []Msg) (msgs []Msg, from, to uint64, err error) {
	d := decoder{b: payload, ctx: "messages frame"}
	from = d.uvarint("sender")
	to = d.uvarint("receiver")
	for d.err == nil && d.remaining() > 0 {
		var m Msg
		d.message(&m, from, to)
		if d.err == nil {
			dst = append(dst, m)
		}
	}
	return dst, from, to, d.err
}

func (d *decoder) message(m *Msg, from, to uint64) {
	m.Group = d.uvarint("group")
	m.Type = consensus.MessageType(d.byte("message type"))
	if d.err == nil && !m.Type.Valid() {
		d.fail("unknown message type %d", uint8(m.Type))
		return
	}
	present := d.uvarint("field set")
	if present&^knownFields != 0 {
		d.fail("unknown fields %#x in %s", present&^knownFields, m.Type)
		return
	}
	m.From, m.To = from, to
	for i, p := range [...]*uint64{&m.Term, &m.LogTerm, &m.Index, &m.Commit, &m.RejectHint, &m.Round, &m.Context} {
		if present&(1<<i) != 0 {
			if *p = d.uvarint("field"); *p == 0 && d.err == nil {
				// Zero fields are left out, so a zero here is not canonical.
				d.fail("%s field %d present but zero", m.Type, i)
			}
		}
	}
	m.Reject = present&fieldReject != 0
	m.Force = present&fieldForce != 0
	if present&fieldEntries != 0 {
		d.entries(m)
	}
	if present&fieldSnapshot != 0 {
		s := &consensus.SnapshotMeta{}
		s.Index = d.uvarint("snapshot index")
		s.Term = d.uvarint("snapshot term")
		s.Membership.Voters = d.ids("snapshot voters")
		s.Membership.Learners = d.ids("snapshot learners")
		m.Snapshot = s
	}
}

// entrySlabLen is the smallest slab of entries a decoder allocates.
const entrySlabLen = 64

// minEntryBytes is the least an entry takes: a term, a type and a length.
const minEntryBytes = 3

func (d *decoder) entries(m *Msg) {
	n := d.count(minEntryBytes, "entry count")
	if d.err == nil && n == 0 {
		d.fail("%s entries present but empty", m.Type)
		return
	}
	first := d.uvarint("first entry index")
	if d.err == nil && first > ^uint64(0)-uint64(n-1) {
		d.fail("entry indexes overflow from %d", first)
		return
	}
	if d.err != nil {
		return
	}
	if cap(d.slab)-len(d.slab) < n {
		d.slab = make([]consensus.Entry, 0, max(n, entrySlabLen))
	}
	lo := len(d.slab)
	d.slab = d.slab[:lo+n]
	ents := d.slab[lo : lo+n : lo+n] // capped: appending to one message's entries cannot reach the next's
	for i := range ents {
		e := &ents[i]
		e.Index = first + uint64(i)
		e.Term = d.uvarint("entry term")
		e.Type = consensus.EntryType(d.byte("entry type"))
		if d.err == nil && e.Type > consensus.EntryMembership {
			d.fail("entry %d has unknown type %d", e.Index, uint8(e.Type))
		}
		e.Data = d.bytes(d.uvarint("entry length"), "entry data")
		if d.err != nil {
			return
		}
	}
	m.Entries = ents
}
