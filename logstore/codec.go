package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/raftpipe/raftpipe/consensus"
)

// Payloads are uvarints, in the order the encoders below write them. The
// decoders trust no length or count: each is checked against the bytes
// left before anything is allocated.

const (
	segmentMagic   = "rpwal"
	segmentVersion = 1
)

var errShortPayload = errors.New("payload ends early")

// decoder reads uvarints and bytes from a payload, remembering the first
// error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortPayload
		if n < 0 {
			d.err = errors.New("varint overflows 64 bits")
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errShortPayload
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShortPayload
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// count reads a count of items each at least minSize bytes long, refusing
// one the rest of the payload cannot hold.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minSize) {
		d.err = fmt.Errorf("count %d exceeds what %d bytes can hold", n, len(d.b))
		return 0
	}
	return int(n)
}

// finish reports the first error, or bytes left over.
func (d *decoder) finish(t recordType) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the payload", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%w: %s record: %v", ErrCorruptRecord, t, d.err)
	}
	return nil
}

func encodeSegmentHeader(dst []byte, id uint64) []byte {
	dst = append(dst, segmentMagic...)
	dst = append(dst, segmentVersion)
	return binary.AppendUvarint(dst, id)
}

func decodeSegmentHeader(p []byte) (id uint64, err error) {
	d := decoder{b: p}
	if magic := d.bytes(uint64(len(segmentMagic))); d.err == nil && string(magic) != segmentMagic {
		return 0, fmt.Errorf("%w: segment record: magic %q, want %q", ErrCorruptRecord, magic, segmentMagic)
	}
	if v := d.byte(); d.err == nil && v != segmentVersion {
		return 0, fmt.Errorf("%w: segment record: format version %d, this build reads %d", ErrCorruptRecord, v, segmentVersion)
	}
	id = d.uvarint()
	return id, d.finish(recSegment)
}

// encodeEntries writes a group's contiguous entries (recEntries and
// recRelocate): group, first index, count, then term, type, data length
// and data of each.
func encodeEntries(dst []byte, group uint64, ents []consensus.Entry) []byte {
	dst = binary.AppendUvarint(dst, group)
	dst = binary.AppendUvarint(dst, ents[0].Index)
	dst = binary.AppendUvarint(dst, uint64(len(ents)))
	for i := range ents {
		e := &ents[i]
		dst = binary.AppendUvarint(dst, e.Term)
		dst = append(dst, byte(e.Type))
		dst = binary.AppendUvarint(dst, uint64(len(e.Data)))
		dst = append(dst, e.Data...)
	}
	return dst
}

// entrySize bounds what encodeEntries writes for one entry.
func entrySize(e *consensus.Entry) int64 {
	return int64(len(e.Data)) + 2*binary.MaxVarintLen64 + 1
}

// decodeEntries decodes an entries payload into dst (reused), whose data
// slices alias p.
func decodeEntries(t recordType, p []byte, dst []consensus.Entry) (group uint64, ents []consensus.Entry, err error) {
	d := decoder{b: p}
	group = d.uvarint()
	first := d.uvarint()
	n := d.count(3)
	if d.err == nil && (first == 0 || first+uint64(n) < first) {
		d.err = fmt.Errorf("entries from index %d, %d of them", first, n)
	}
	ents = dst[:0]
	for i := 0; i < n && d.err == nil; i++ {
		term := d.uvarint()
		typ := consensus.EntryType(d.byte())
		data := d.bytes(d.uvarint())
		ents = append(ents, consensus.Entry{Term: term, Index: first + uint64(i), Type: typ, Data: data})
	}
	if d.err == nil && n == 0 {
		d.err = errors.New("no entries")
	}
	for i := 1; i < len(ents) && d.err == nil; i++ {
		if ents[i].Term < ents[i-1].Term {
			d.err = fmt.Errorf("term goes down from %d to %d at index %d", ents[i-1].Term, ents[i].Term, ents[i].Index)
		}
	}
	return group, ents, d.finish(t)
}

func encodeHardState(dst []byte, group uint64, hs consensus.HardState) []byte {
	dst = binary.AppendUvarint(dst, group)
	dst = binary.AppendUvarint(dst, hs.Term)
	dst = binary.AppendUvarint(dst, hs.Vote)
	return binary.AppendUvarint(dst, hs.Commit)
}

func decodeHardState(p []byte) (group uint64, hs consensus.HardState, err error) {
	d := decoder{b: p}
	group = d.uvarint()
	hs = consensus.HardState{Term: d.uvarint(), Vote: d.uvarint(), Commit: d.uvarint()}
	return group, hs, d.finish(recHardState)
}

// encodeIndex writes recTruncate: the group and the first index removed.
func encodeIndex(dst []byte, group, index uint64) []byte {
	dst = binary.AppendUvarint(dst, group)
	return binary.AppendUvarint(dst, index)
}

func decodeIndex(t recordType, p []byte) (group, index uint64, err error) {
	d := decoder{b: p}
	group = d.uvarint()
	index = d.uvarint()
	if d.err == nil && index == 0 {
		d.err = errors.New("index 0")
	}
	return group, index, d.finish(t)
}

// encodeSnapshot writes recCompact and recInstall: group, index, term,
// then the voters and the learners, each a count then the IDs.
func encodeSnapshot(dst []byte, group uint64, s consensus.SnapshotMeta) []byte {
	dst = binary.AppendUvarint(dst, group)
	dst = binary.AppendUvarint(dst, s.Index)
	dst = binary.AppendUvarint(dst, s.Term)
	for _, ids := range [][]uint64{s.Membership.Voters, s.Membership.Learners} {
		dst = binary.AppendUvarint(dst, uint64(len(ids)))
		for _, id := range ids {
			dst = binary.AppendUvarint(dst, id)
		}
	}
	return dst
}

func decodeSnapshot(t recordType, p []byte) (group uint64, s consensus.SnapshotMeta, err error) {
	d := decoder{b: p}
	group = d.uvarint()
	s.Index = d.uvarint()
	s.Term = d.uvarint()
	for _, ids := range []*[]uint64{&s.Membership.Voters, &s.Membership.Learners} {
		n := d.count(1)
		if n > 0 {
			*ids = make([]uint64, n)
		}
		for i := range n {
			(*ids)[i] = d.uvarint()
		}
	}
	return group, s, d.finish(t)
}
