package logstore

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// recover rebuilds the indexes from the segments, oldest first, and opens
// the newest for writing; with no segment it starts the first.
//
// The segments are a suffix of the log's history (purge removes the oldest
// ones once it has copied forward whatever was live in them), so a group's
// first record seen may be entries whose predecessors come later, as
// relocations. Gaps are allowed while replaying and must be closed by the
// end: a group's live entries must run from its compaction point on
// without a hole, or a segment is missing.
func (s *Store) recover() error {
	fs, dir := s.opts.FS, s.opts.Dir
	names, err := fs.List(dir)
	if err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	var ids []uint32
	removedTmp := false
	for _, name := range names {
		if strings.HasSuffix(name, segmentSuffix+tmpSuffix) {
			// A segment whose creation a crash interrupted: never in use.
			if err := fs.Remove(dir + "/" + name); err != nil {
				return fmt.Errorf("logstore: %w", err)
			}
			removedTmp = true
			continue
		}
		if id, ok := parseSegmentName(name); ok {
			ids = append(ids, id)
		}
	}
	if removedTmp {
		if err := fs.SyncDir(dir); err != nil {
			return fmt.Errorf("logstore: %w", err)
		}
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			return fmt.Errorf("%w: %s: segment %d is missing between %d and %d", ErrCorruptLog, dir, ids[i-1]+1, ids[i-1], ids[i])
		}
	}
	if len(ids) == 0 {
		seg, _, err := createSegment(fs, dir, 1, s.opts.SegmentBytes)
		if err != nil {
			return fmt.Errorf("logstore: create segment 1: %w", err)
		}
		s.segs[1], s.active, s.oldest = seg, seg, 1
		return nil
	}
	s.oldest = ids[0]
	for i, id := range ids {
		if err := s.recoverSegment(id, i == len(ids)-1); err != nil {
			return err
		}
	}
	return s.checkGroups()
}

// recoverSegment reads segment id whole and replays its complete writes.
func (s *Store) recoverSegment(id uint32, newest bool) error {
	name := segmentName(s.opts.Dir, id)
	f, err := s.opts.FS.Open(name)
	if err != nil {
		return fmt.Errorf("logstore: %w", err)
	}
	seg := &segment{id: id, name: name, f: f}
	s.segs[id] = seg
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("logstore: %s: %w", seg, err)
	}
	data := make([]byte, size)
	if n, err := f.ReadAt(data, 0); n < len(data) {
		return fmt.Errorf("logstore: %s: read %d of %d bytes: %w", seg, n, size, err)
	}
	seg.size = size
	sc := scanner{data: data, seg: seg, newest: newest}
	end, err := sc.scan(func(recs []scanned) error {
		for _, r := range recs {
			if err := s.replay(seg, r); err != nil {
				return fmt.Errorf("%s offset %d: %w", seg, r.off, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	seg.end = end
	if sc.tornEnd > end {
		if err := s.truncateTorn(seg, end, sc.tornEnd); err != nil {
			return err
		}
	}
	if newest {
		s.active = seg
	}
	return nil
}

// truncateTorn zeroes the torn write in [from, to) of the newest segment,
// durably, so that the next write cannot be read as continuing it.
func (s *Store) truncateTorn(seg *segment, from, to int64) error {
	if _, err := seg.f.WriteAt(make([]byte, to-from), from); err != nil {
		return fmt.Errorf("logstore: %s: truncate torn tail: %w", seg, err)
	}
	if err := seg.f.Sync(); err != nil {
		return fmt.Errorf("logstore: %s: truncate torn tail: %w", seg, err)
	}
	s.stats.tornBytes.Add(uint64(to - from))
	s.opts.Logger.Warn("logstore: truncated a torn write at the tail of the log; it was never acknowledged",
		"segment", seg.name, "offset", from, "bytes", to-from)
	return nil
}

// scanned is one intact record of a segment.
type scanned struct {
	hd      header
	off     int64
	payload []byte
}

// scanner walks a segment's records, handing each complete write to a
// callback, and tells a torn tail from corruption.
type scanner struct {
	data    []byte
	seg     *segment
	newest  bool
	tornEnd int64 // end of the torn write's bytes, if the tail was torn
	dataEnd int64 // one past the last non-zero byte; -1 until computed
	recs    []scanned
}

// scan returns where the log's intact writes end.
func (sc *scanner) scan(onWrite func([]scanned) error) (end int64, err error) {
	sc.dataEnd = -1
	data := sc.data
	var off, writeStart int64
	for {
		h := data[off:min(int64(len(data)), off+headerSize)]
		hd, ok := parseHeader(h)
		if !ok {
			return sc.damaged(off, writeStart, off+headerSize, "invalid record header")
		}
		recEnd := off + recordSize(hd.length)
		if recEnd > int64(len(data)) {
			return sc.damaged(off, writeStart, off+headerSize+int64(hd.length), fmt.Sprintf("%s record of %d bytes runs past the end of the file", hd.typ, hd.length))
		}
		if err := checkPayload(hd, data[off:recEnd]); err != nil {
			return sc.damaged(off, writeStart, off+headerSize+int64(hd.length), err.Error())
		}
		if off == 0 && hd.typ != recSegment {
			return 0, fmt.Errorf("%w: %s offset 0: %s record where the segment header must be", ErrCorruptLog, sc.seg, hd.typ)
		}
		if off != 0 && hd.typ == recSegment {
			return 0, fmt.Errorf("%w: %s offset %d: a second segment header", ErrCorruptLog, sc.seg, off)
		}
		if off == 0 {
			id, err := decodeSegmentHeader(data[headerSize : headerSize+hd.length])
			if err != nil {
				return 0, fmt.Errorf("%s offset 0: %w", sc.seg, err)
			}
			if id != uint64(sc.seg.id) {
				return 0, fmt.Errorf("%w: %s holds segment %d", ErrCorruptLog, sc.seg, id)
			}
		} else {
			sc.recs = append(sc.recs, scanned{hd: hd, off: off, payload: data[off+headerSize : off+headerSize+int64(hd.length)]})
		}
		off = recEnd
		if hd.flags&flagEndOfWrite != 0 {
			if err := onWrite(sc.recs); err != nil {
				return 0, err
			}
			sc.recs = sc.recs[:0]
			writeStart = off
		}
	}
}

// damaged decides what the damage at off means: the records are intact up
// to off, the write in progress began at writeStart, and a crash that cut
// the record at off would have left zeros from limit on (for a header, its
// end; for a record, its trailer). If every byte from limit on is zero the
// tail is torn: the write in progress never completed, so it was never
// acknowledged, and is dropped. A zero header with nothing after it and no
// write in progress is the clean end of the log. Anything else, or any
// damage in an older segment (whose writes all completed before the next
// segment began), or damage to a segment's header (it was synced before
// the segment was named), is corruption.
func (sc *scanner) damaged(off, writeStart, limit int64, what string) (int64, error) {
	if off == 0 {
		// A segment gets its name only once its header is synced.
		return 0, fmt.Errorf("%w: %s offset 0: segment header: %s", ErrCorruptRecord, sc.seg, what)
	}
	end := sc.lastNonZero()
	if end <= off && writeStart == off {
		return off, nil // the clean end
	}
	if sc.newest && end <= limit {
		sc.tornEnd = end
		return writeStart, nil
	}
	if end <= off {
		what = "write cut short: its last record is missing"
		off = writeStart
	}
	return 0, fmt.Errorf("%w: %s offset %d: %s", ErrCorruptRecord, sc.seg, off, what)
}

// lastNonZero returns one past the last non-zero byte of the segment.
func (sc *scanner) lastNonZero() int64 {
	if sc.dataEnd >= 0 {
		return sc.dataEnd
	}
	const chunk = 64 << 10
	var zeros [chunk]byte
	end := int64(len(sc.data))
	for end > 0 {
		from := max(0, end-chunk)
		if !bytes.Equal(sc.data[from:end], zeros[:end-from]) {
			for end > from && sc.data[end-1] == 0 {
				end--
			}
			break
		}
		end = from
	}
	sc.dataEnd = end
	return end
}
