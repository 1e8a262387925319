package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record framing and to
// every payload decoder. None may panic. What a payload decoder accepts
// must survive its encoder: encode(decode(p)) decodes to the same value
// (p itself need not come back: a varint may be written longer than
// needed). Any bytes framed as a record parse back as that record, and a
// single flipped bit in the framed record is always caught.
func FuzzDecodeRecord(f *testing.F) {
	ents := []consensus.Entry{
		{Index: 7, Term: 2, Type: consensus.EntryNormal, Data: []byte("hello")},
		{Index: 8, Term: 2, Type: consensus.EntryNoop},
		{Index: 9, Term: 3, Type: consensus.EntryMembership, Data: bytes.Repeat([]byte{0}, 40)},
	}
	snap := consensus.SnapshotMeta{Index: 100, Term: 4, Membership: consensus.Membership{Voters: []uint64{1, 2, 3}, Learners: []uint64{9}}}
	for _, p := range [][]byte{
		encodeEntries(nil, 3, ents),
		encodeEntries(nil, 1<<40, ents[:1]),
		encodeHardState(nil, 3, consensus.HardState{Term: 5, Vote: 2, Commit: 99}),
		encodeIndex(nil, 3, 42),
		encodeSnapshot(nil, 3, snap),
		encodeSnapshot(nil, 3, consensus.SnapshotMeta{Index: 1}),
		encodeSegmentHeader(nil, 1),
		encodeSegmentHeader(nil, math.MaxUint32),
	} {
		f.Add(p)
		rec, at := beginRecord(nil, recEntries)
		rec = finishRecord(append(rec, p...), at)
		markEndOfWrite(rec, at)
		f.Add(rec)
	}
	f.Add([]byte{})
	f.Add(make([]byte, headerSize+trailerSize))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})

	f.Fuzz(func(t *testing.T, data []byte) {
		// As a record.
		if hd, ok := parseHeader(data); ok {
			if n := recordSize(hd.length); int64(len(data)) >= n {
				_ = checkPayload(hd, data[:n])
			}
		}
		// As every kind of payload.
		for _, typ := range []recordType{recEntries, recRelocate} {
			if g, es, err := decodeEntries(typ, data, nil); err == nil {
				if len(es) == 0 {
					t.Fatalf("%s: decoded no entries without an error", typ)
				}
				g2, es2, err := decodeEntries(typ, encodeEntries(nil, g, es), nil)
				if err != nil || g2 != g || !sameEntries(es, es2) {
					t.Fatalf("%s: round trip: group %d -> %d, %d entries -> %d, %v", typ, g, g2, len(es), len(es2), err)
				}
			} else if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("%s: %v, want ErrCorruptRecord", typ, err)
			}
		}
		if g, hs, err := decodeHardState(data); err == nil {
			g2, hs2, err := decodeHardState(encodeHardState(nil, g, hs))
			if err != nil || g2 != g || hs2 != hs {
				t.Fatalf("hard state round trip: %d %+v -> %d %+v, %v", g, hs, g2, hs2, err)
			}
		}
		if g, i, err := decodeIndex(recTruncate, data); err == nil {
			g2, i2, err := decodeIndex(recTruncate, encodeIndex(nil, g, i))
			if err != nil || g2 != g || i2 != i {
				t.Fatalf("index round trip: %d %d -> %d %d, %v", g, i, g2, i2, err)
			}
		}
		for _, typ := range []recordType{recCompact, recInstall} {
			if g, s, err := decodeSnapshot(typ, data); err == nil {
				g2, s2, err := decodeSnapshot(typ, encodeSnapshot(nil, g, s))
				if err != nil || g2 != g || !reflect.DeepEqual(s, s2) {
					t.Fatalf("%s: round trip: %d %+v -> %d %+v, %v", typ, g, s, g2, s2, err)
				}
			}
		}
		if id, err := decodeSegmentHeader(data); err == nil {
			if id2, err := decodeSegmentHeader(encodeSegmentHeader(nil, id)); err != nil || id2 != id {
				t.Fatalf("segment header round trip: %d -> %d, %v", id, id2, err)
			}
		}
		// Framed as a record of some type: it parses back, and a flipped
		// bit anywhere in it is caught by the header or the payload check.
		if len(data) > 1<<20 {
			return
		}
		typ := recordType(1 + crc32.ChecksumIEEE(data)%uint32(recTypeEnd-1))
		rec, at := beginRecord(nil, typ)
		rec = finishRecord(append(rec, data...), at)
		hd, ok := parseHeader(rec)
		if !ok || hd.typ != typ || int(hd.length) != len(data) || recordSize(hd.length) != int64(len(rec)) {
			t.Fatalf("framed %d bytes as %s: header %+v, %v", len(data), typ, hd, ok)
		}
		if err := checkPayload(hd, rec); err != nil {
			t.Fatalf("framed %d bytes as %s: %v", len(data), typ, err)
		}
		bit := int(crc32.ChecksumIEEE(append([]byte{1}, data...)) % uint32(len(rec)*8))
		rec[bit/8] ^= 1 << (bit % 8)
		if hd, ok := parseHeader(rec); ok && recordSize(hd.length) == int64(len(rec)) && checkPayload(hd, rec) == nil {
			t.Fatalf("bit %d flipped in a %s record of %d bytes went unnoticed", bit, typ, len(rec))
		}
	})
}

func sameEntries(a, b []consensus.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Index != b[i].Index || a[i].Term != b[i].Term || a[i].Type != b[i].Type || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

// fuzzSegment is where FuzzRecover puts raw input: the first segment.
var fuzzSegment = segmentName(walDir, 1)

// fuzzOptions keep each FuzzRecover iteration cheap.
func fuzzOptions(fs vfs.FS) Options {
	opts := smallOptions(fs)
	opts.SegmentBytes = 4 << 10
	opts.PurgeThresholdBytes = 4 << 10
	opts.RecordBytesTarget = 256
	opts.GroupCacheBytesMax = 256
	return opts
}

// framedMarker starts a FuzzRecover input that is not a segment's bytes
// but records to frame, so that the fuzzer, which cannot forge CRC32C
// checksums, still reaches replay with records that each check out but
// need not agree with one another. After the marker come records, each a
// type byte, a flags byte (bit 0: last of its write), a uvarint length
// and the payload; type 0xFF starts the next segment instead. Each
// segment gets a valid header and is padded with zeros, as if
// preallocated, to fuzzSegmentBytes.
const (
	framedMarker     = 0xF5
	framedNewSegment = 0xFF
	fuzzSegmentBytes = 4 << 10
)

// framedSegments builds the segments a framed input describes.
func framedSegments(data []byte) [][]byte {
	header := func(id uint64) []byte {
		seg, at := beginRecord(nil, recSegment)
		seg = finishRecord(encodeSegmentHeader(seg, id), at)
		markEndOfWrite(seg, at)
		return seg
	}
	segs := [][]byte{header(1)}
	d := data[1:]
	for len(d) >= 2 {
		typ, flags := d[0], d[1]
		d = d[2:]
		if typ == framedNewSegment {
			segs = append(segs, header(uint64(len(segs)+1)))
			continue
		}
		n, k := binary.Uvarint(d)
		if k <= 0 {
			break
		}
		d = d[k:]
		n = min(n, uint64(len(d)))
		seg, at := beginRecord(segs[len(segs)-1], recordType(typ%uint8(recTypeEnd+1)))
		seg = finishRecord(append(seg, d[:n]...), at)
		if flags&1 != 0 {
			markEndOfWrite(seg, at)
		}
		segs[len(segs)-1] = seg
		d = d[n:]
	}
	for i, seg := range segs {
		if len(seg) < fuzzSegmentBytes {
			segs[i] = append(seg, make([]byte, fuzzSegmentBytes-len(seg))...)
		}
	}
	return segs
}

// framed turns real segments into a framed input.
func framed(segs [][]byte) []byte {
	out := []byte{framedMarker}
	for i, data := range segs {
		if i > 0 {
			out = append(out, framedNewSegment, 0)
		}
		for _, r := range diskRecords(data)[1:] {
			hd, _ := parseHeader(data[r.off:])
			out = append(out, byte(hd.typ), hd.flags)
			out = binary.AppendUvarint(out, uint64(hd.length))
			out = append(out, data[r.off+headerSize:r.off+headerSize+int64(hd.length)]...)
		}
	}
	return out
}

// fuzzSeeds returns small real logs, purged now and then: the whole log
// as a framed input; and the first segment, if purge left it, whole, its
// data alone, cut, and cut with zeros after.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for seed := uint64(1); seed <= 4; seed++ {
		fs := vfs.NewMem()
		opts := fuzzOptions(fs)
		s, err := Open(opts)
		if err != nil {
			f.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 0))
		gn := &batchGen{rng: rng, groups: 3, dataMax: 60}
		m := walModel{}
		for k := range 12 {
			b, next := gn.batch(m)
			if err := s.Write(b); err != nil {
				f.Fatal(err)
			}
			m = next
			if k%4 == 3 && seed%2 == 0 {
				if err := s.Purge(); err != nil {
					f.Fatal(err)
				}
			}
		}
		s.Close()
		var segs [][]byte
		for _, name := range segmentFiles(f, fs) {
			data, err := fs.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			segs = append(segs, data)
		}
		seeds = append(seeds, framed(segs))
		// The framed form rebuilds the same log (its segments numbered
		// from 1).
		rebuilt := vfs.NewMem()
		for i, seg := range framedSegments(framed(segs)) {
			if err := rebuilt.WriteFile(segmentName(walDir, uint32(i+1)), seg); err != nil {
				f.Fatal(err)
			}
		}
		s, err = Open(fuzzOptions(rebuilt))
		if err != nil {
			f.Fatalf("the framed seed %d does not open: %v", seed, err)
		}
		if err := diffStore(s, m, rng); err != nil {
			f.Fatalf("the framed seed %d: %v", seed, err)
		}
		s.Close()
		data, err := fs.ReadFile(fuzzSegment)
		if err != nil {
			continue // purged
		}
		recs := diskRecords(data)
		end := recs[len(recs)-1].off + recs[len(recs)-1].size
		cut := int64(rng.IntN(int(end)))
		seeds = append(seeds, data, data[:end], data[:cut], append(data[:cut:cut], make([]byte, 100)...))
	}
	return seeds
}

// FuzzRecover opens a store on arbitrary segment contents: the input as
// the first and only segment's bytes, or (see framedMarker) records with
// good checksums over one or more segments. Open must not panic: it fails
// with ErrCorruptRecord or ErrCorruptLog, or it opens. A store that opened
// must read back every group without an error, entries matching their
// terms; and it must be usable: a write to it, then a reopen, finds what
// it read before plus the write.
func FuzzRecover(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Add([]byte{})
	f.Add([]byte{framedMarker})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		segs := [][]byte{data}
		if len(data) > 0 && data[0] == framedMarker {
			segs = framedSegments(data)
		}
		fs := vfs.NewMem()
		for i, seg := range segs {
			if err := fs.WriteFile(segmentName(walDir, uint32(i+1)), seg); err != nil {
				t.Fatal(err)
			}
		}
		opts := fuzzOptions(fs)
		s, err := Open(opts)
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) && !errors.Is(err, ErrCorruptLog) {
				t.Fatalf("Open: %v, want ErrCorruptRecord or ErrCorruptLog", err)
			}
			if errors.Is(err, ErrCorruptRecord) && (!strings.Contains(err.Error(), ".wal") || !strings.Contains(err.Error(), "offset")) {
				t.Fatalf("Open: %q does not name the segment and offset", err)
			}
			return
		}
		m, newGroup := fuzzReadModel(t, s)
		groups := len(s.Groups())
		var b Batch
		b.Append(newGroup, []consensus.Entry{{Index: 1, Term: 1, Data: []byte("a")}, {Index: 2, Term: 1}})
		b.SetHardState(newGroup, consensus.HardState{Term: 1, Vote: 1, Commit: 2})
		if err := s.Write(&b); err != nil {
			t.Fatalf("Write to a store that opened: %v", err)
		}
		m.apply(&b)
		s.Close()
		s, err = Open(opts)
		if err != nil {
			t.Fatalf("reopen after a write to a store that opened: %v", err)
		}
		defer s.Close()
		if got, want := len(s.Groups()), groups+1; got != want {
			t.Fatalf("reopen after a write to a store that opened: %d groups, want %d", got, want)
		}
		rng := rand.New(rand.NewPCG(1, 1))
		for id, g := range m {
			if err := diffGroup(s.Storage(id), g, rng); err != nil {
				t.Fatalf("reopen after a write to a store that opened: group %d: %v", id, err)
			}
		}
	})
}

// fuzzReadModel reads every group of s through Storage, checks what it reads
// hangs together, and returns it as a model, with a group id s does not
// use. Groups whose indexes are too close to overflowing to be walked are
// read only for their bounds and left out of the model.
func fuzzReadModel(t *testing.T, s *Store) (walModel, uint64) {
	m := walModel{}
	var newGroup uint64 = 1
	for _, id := range s.Groups() {
		newGroup = max(newGroup, id+1)
		st := s.Storage(id)
		hs, err1 := st.InitialState()
		snap, err2 := st.Snapshot()
		first, err3 := st.FirstIndex()
		last, err4 := st.LastIndex()
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			t.Fatalf("group %d: %v", id, err)
		}
		if snap.Index >= math.MaxUint64/2 || last >= math.MaxUint64/2 {
			continue
		}
		if first != snap.Index+1 || last < snap.Index {
			t.Fatalf("group %d: snapshot %d, first %d, last %d", id, snap.Index, first, last)
		}
		g := &groupLog{hs: hs, snap: snap}
		for lo := first; lo <= last; {
			ents, err := st.Entries(lo, last+1, 4<<10)
			if err != nil || len(ents) == 0 {
				t.Fatalf("group %d: Entries(%d, %d): %d entries, %v", id, lo, last+1, len(ents), err)
			}
			for k, e := range ents {
				tm, err := st.Term(e.Index)
				if e.Index != lo+uint64(k) || err != nil || tm != e.Term {
					t.Fatalf("group %d: Entries(%d, %d)[%d] has index %d term %d; Term(%d) = %d, %v", id, lo, last+1, k, e.Index, e.Term, e.Index, tm, err)
				}
			}
			g.ents = append(g.ents, ents...)
			lo += uint64(len(ents))
		}
		m[id] = g
	}
	if newGroup == 0 { // a group math.MaxUint64 exists
		newGroup = 1<<63 + 1
	}
	for m[newGroup] != nil || s.group(newGroup) != nil {
		newGroup++
	}
	return m, newGroup
}
