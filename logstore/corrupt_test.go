package logstore

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// corruptLog is a synced log over several segments, nothing purged, and
// the model of what it holds.
type corruptLog struct {
	fs   *vfs.MemFS
	opts Options
	m    walModel
	segs []string // segment paths, oldest first
}

func buildCorruptLog(t *testing.T) *corruptLog {
	fs := vfs.NewMem()
	opts := smallOptions(fs)
	opts.SegmentBytes = 4 << 10
	opts.PurgeThresholdBytes = 4 << 10 // never reached: nothing calls Purge
	opts.RecordBytesTarget = 300
	s := openStore(t, opts)
	rng := rand.New(rand.NewPCG(3, 3))
	gn := &batchGen{rng: rng, groups: 4, dataMax: 200}
	m := walModel{}
	for range 30 {
		b, next := gn.batch(m)
		if err := s.Write(b); err != nil {
			t.Fatal(err)
		}
		m = next
	}
	if err := diffStore(s, m, rng); err != nil {
		t.Fatal(err)
	}
	s.Close()
	cl := &corruptLog{fs: fs.Crash(), opts: opts, m: m}
	cl.segs = segmentFiles(t, cl.fs)
	if len(cl.segs) < 5 {
		t.Fatalf("the log spans %d segments, want at least 5", len(cl.segs))
	}
	return cl
}

// openCorrupt opens a copy of fs altered by alter, and returns the store
// (nil on error) and the error.
func (cl *corruptLog) open(t *testing.T, alter func(fs *vfs.MemFS)) (*Store, error) {
	t.Helper()
	fs := cl.fs.Crash() // a copy
	alter(fs)
	opts := cl.opts
	opts.FS = fs
	return Open(opts)
}

// wantCorrupt checks that err reports corruption, by kind, naming the
// segment file and the offset, or that the store opened and lost nothing.
func (cl *corruptLog) wantCorrupt(t *testing.T, what string, s *Store, err error, seg string, offs ...int64) {
	t.Helper()
	if err == nil {
		defer s.Close()
		if derr := diffStore(s, cl.m, rand.New(rand.NewPCG(1, 1))); derr != nil {
			t.Errorf("%s: Open succeeded and the store lost synced data: %v", what, derr)
		}
		return
	}
	if !errors.Is(err, ErrCorruptRecord) && !errors.Is(err, ErrCorruptLog) {
		t.Errorf("%s: Open: %v, want ErrCorruptRecord or ErrCorruptLog", what, err)
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, path.Base(seg)) {
		t.Errorf("%s: Open: %q does not name the segment file %s", what, msg, path.Base(seg))
	}
	if len(offs) == 0 {
		if !strings.Contains(msg, "offset") {
			t.Errorf("%s: Open: %q names no offset", what, msg)
		}
		return
	}
	for _, off := range offs {
		if strings.Contains(msg, fmt.Sprintf("offset %d:", off)) {
			return
		}
	}
	t.Errorf("%s: Open: %q does not name the offset (one of %v)", what, msg, offs)
}

// TestCorruptRecordFailsOpen flips one bit in the header, the payload and
// the trailer of every record of every segment, the segment header
// records and the newest segment's last record included. Open must fail
// with ErrCorruptRecord or ErrCorruptLog naming the segment and the
// record's offset (or its write's), never panic, and never open a store
// that lost a synced entry.
func TestCorruptRecordFailsOpen(t *testing.T) {
	cl := buildCorruptLog(t)
	rng := rand.New(rand.NewPCG(5, 5))
	var flips, opened int
	for _, seg := range cl.segs {
		data, err := cl.fs.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		recs := diskRecords(data)
		if len(recs) == 0 || recs[0].typ != recSegment {
			t.Fatalf("%s: no segment header record", seg)
		}
		writeStart := int64(0)
		for _, r := range recs {
			positions := map[string]int64{
				"header":  r.off + rng.Int64N(headerSize),
				"trailer": r.off + r.size - 1,
			}
			if n := r.size - recordFrame; n > 0 {
				positions["payload"] = r.off + headerSize + rng.Int64N(n)
			}
			for part, at := range positions {
				bit := byte(1) << rng.IntN(8)
				what := fmt.Sprintf("%s: bit %#x flipped at %d in the %s of the %s record at offset %d", seg, bit, at, part, r.typ, r.off)
				s, err := cl.open(t, func(fs *vfs.MemFS) {
					flipped := append([]byte(nil), data...)
					flipped[at] ^= bit
					if err := fs.WriteFile(seg, flipped); err != nil {
						t.Fatal(err)
					}
				})
				cl.wantCorrupt(t, what, s, err, seg, r.off, writeStart)
				flips++
				if err == nil {
					opened++
				}
			}
			if r.endOfW {
				writeStart = r.off + r.size
			}
		}
	}
	t.Logf("%d segments, %d flips, %d of them opened (and lost nothing)", len(cl.segs), flips, opened)
}

// TestCorruptMissingSegment removes one segment file: a missing middle
// segment is ErrCorruptLog naming it; a missing oldest one whose entries
// later segments continue is ErrCorruptLog too.
func TestCorruptMissingSegment(t *testing.T) {
	cl := buildCorruptLog(t)
	for k := 1; k < len(cl.segs)-1; k++ {
		id, _ := parseSegmentName(path.Base(cl.segs[k]))
		s, err := cl.open(t, func(fs *vfs.MemFS) {
			if err := fs.Remove(cl.segs[k]); err != nil {
				t.Fatal(err)
			}
		})
		if err == nil {
			s.Close()
			t.Errorf("Open without %s succeeded", cl.segs[k])
			continue
		}
		if !errors.Is(err, ErrCorruptLog) || !strings.Contains(err.Error(), fmt.Sprintf("segment %d ", id)) {
			t.Errorf("Open without %s: %v, want ErrCorruptLog naming segment %d", cl.segs[k], err, id)
		}
	}

	// One group's log, never compacted, over several segments: the
	// oldest holds its first entries.
	fs := vfs.NewMem()
	opts := smallOptions(fs)
	opts.SegmentBytes = 4 << 10
	s := openStore(t, opts)
	for i := uint64(0); i < 20; i++ {
		var b Batch
		b.Append(1, (&batchGen{rng: rand.New(rand.NewPCG(i, i)), dataMax: 100}).entries(i*10+1, 10, 1))
		if err := s.Write(&b); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	opts.FS = fs.Crash()
	if err := opts.FS.Remove(segmentName(walDir, 1)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(opts)
	if err == nil {
		defer s.Close()
		t.Fatalf("Open without the oldest segment, whose entries are live, succeeded: %s", describeStore(s, 1))
	}
	if !errors.Is(err, ErrCorruptLog) {
		t.Errorf("Open without the oldest segment: %v, want ErrCorruptLog", err)
	}
}

// TestCorruptGarbageAfterData writes one non-zero byte past the end of
// the data of a segment. In an older segment, whose writes all completed
// before the next segment began, that is corruption wherever it is. In
// the newest it is corruption too beyond one record header's length
// after the end (no torn write leaves a gap of zeros); within it, it
// reads as the torn start of a write and is zeroed.
func TestCorruptGarbageAfterData(t *testing.T) {
	cl := buildCorruptLog(t)
	for k, seg := range cl.segs {
		data, err := cl.fs.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		recs := diskRecords(data)
		end := recs[len(recs)-1].off + recs[len(recs)-1].size
		newest := k == len(cl.segs)-1
		for _, at := range []int64{end, end + 1, end + headerSize - 1, end + headerSize, end + headerSize + 100, int64(len(data)) - 1} {
			if at < end || at >= int64(len(data)) {
				continue // a segment its data fills
			}
			what := fmt.Sprintf("%s: garbage at %d, %d bytes after the end of its data", seg, at, at-end)
			s, err := cl.open(t, func(fs *vfs.MemFS) {
				garbage := append([]byte(nil), data...)
				garbage[at] = 0x5a
				if err := fs.WriteFile(seg, garbage); err != nil {
					t.Fatal(err)
				}
			})
			if newest && at < end+headerSize {
				if err != nil {
					t.Errorf("%s: Open: %v, want a torn tail zeroed", what, err)
					continue
				}
				if err := diffStore(s, cl.m, rand.New(rand.NewPCG(1, 1))); err != nil {
					t.Errorf("%s: %v", what, err)
				}
				if tb := s.Stats().TornBytes; tb != uint64(at-end+1) {
					t.Errorf("%s: TornBytes = %d, want %d", what, tb, at-end+1)
				}
				s.Close()
				continue
			}
			if err == nil {
				s.Close()
				t.Errorf("%s: Open succeeded, want corruption", what)
				continue
			}
			cl.wantCorrupt(t, what, nil, err, seg, end)
		}
	}
}

// TestCorruptRecordOnRead corrupts, under an open store, a record that
// only disk holds (the cache keeps nothing): reading its entries fails
// with an error wrapping ErrCorruptRecord that names the segment and
// offset, and nothing panics. Term and the bounds, which the index in
// memory answers, still work.
func TestCorruptRecordOnRead(t *testing.T) {
	cl := buildCorruptLog(t)
	opts := cl.opts
	opts.FS = cl.fs.Crash()
	opts.GroupCacheBytesMax = 1
	fs := opts.FS.(*vfs.MemFS)
	s := openStore(t, opts)
	defer s.Close()
	if err := diffStore(s, cl.m, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	// An entries record of an older segment that the index still points
	// at: its entries are the model's.
	type target struct {
		seg   string
		rec   diskRecord
		group uint64
		index uint64
	}
	var targets []target
	for _, seg := range cl.segs[:len(cl.segs)-1] {
		data, _ := fs.ReadFile(seg)
		for _, r := range diskRecords(data) {
			if r.typ != recEntries {
				continue
			}
			group, ents, err := decodeEntries(r.typ, data[r.off+headerSize:r.off+r.size-trailerSize], nil)
			if err != nil {
				t.Fatal(err)
			}
			g := cl.m[group]
			for _, e := range ents {
				if g != nil && e.Index >= g.first() && e.Index <= g.last() && string(g.ents[e.Index-g.first()].Data) == string(e.Data) && g.ents[e.Index-g.first()].Term == e.Term {
					targets = append(targets, target{seg, r, group, e.Index})
					break
				}
			}
		}
	}
	if len(targets) < 3 {
		t.Fatalf("%d live entries records in older segments, want 3", len(targets))
	}
	parts := []string{"header", "payload", "trailer"}
	for k, part := range parts {
		tg := targets[k*(len(targets)-1)/2]
		data, _ := fs.ReadFile(tg.seg)
		at := map[string]int64{"header": tg.rec.off + 5, "payload": tg.rec.off + headerSize + 1, "trailer": tg.rec.off + tg.rec.size - 1}[part]
		data[at] ^= 0x10
		if err := fs.WriteFile(tg.seg, data); err != nil {
			t.Fatal(err)
		}
		st := s.Storage(tg.group)
		ents, err := st.Entries(tg.index, tg.index+1, math.MaxUint64)
		what := fmt.Sprintf("group %d entry %d, in the record at %s offset %d, %s flipped", tg.group, tg.index, tg.seg, tg.rec.off, part)
		if !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s: Entries = %d entries, %v; want ErrCorruptRecord", what, len(ents), err)
		} else if msg := err.Error(); !strings.Contains(msg, path.Base(tg.seg)) || !strings.Contains(msg, fmt.Sprintf("offset %d", tg.rec.off)) {
			t.Errorf("%s: %q does not name the segment and offset", what, msg)
		}
		if tm, err := st.Term(tg.index); err != nil || tm != cl.m[tg.group].term(tg.index) {
			t.Errorf("%s: Term = %d, %v", what, tm, err)
		}
	}
	// The store did not stop: a read does not fail the writer.
	var b Batch
	b.SetHardState(1, consensus.HardState{Term: 99})
	if err := s.Write(&b); err != nil {
		t.Errorf("Write after a corrupt read: %v", err)
	}
}

// TestCorruptHeaderlessSegment opens a log whose only segment has no
// segment header record: all zeros, as preallocated, or a header cut
// short. The store never makes such a file (a segment is renamed into
// place only once its header is synced), so Open may refuse it as
// corruption; what it must not do is accept it and then write records
// where the header belongs, making a log that no later Open accepts.
func TestCorruptHeaderlessSegment(t *testing.T) {
	hdr, at := beginRecord(nil, recSegment)
	hdr = finishRecord(encodeSegmentHeader(hdr, 1), at)
	markEndOfWrite(hdr, at)
	cut := append(hdr[:10:10], make([]byte, 4<<10-10)...)
	for name, data := range map[string][]byte{
		"all zeros":          make([]byte, 4<<10),
		"a header cut short": cut,
	} {
		t.Run(name, func(t *testing.T) {
			fs := vfs.NewMem()
			seg := segmentName(walDir, 1)
			if err := fs.WriteFile(seg, data); err != nil {
				t.Fatal(err)
			}
			opts := smallOptions(fs)
			s, err := Open(opts)
			if err != nil {
				if !errors.Is(err, ErrCorruptRecord) && !errors.Is(err, ErrCorruptLog) || !strings.Contains(err.Error(), path.Base(seg)) {
					t.Fatalf("Open: %v, want ErrCorruptRecord or ErrCorruptLog naming %s", err, path.Base(seg))
				}
				return
			}
			var b Batch
			b.Append(1, []consensus.Entry{{Index: 1, Term: 1, Data: []byte("x")}})
			b.SetHardState(1, consensus.HardState{Term: 1, Commit: 1})
			if err := s.Write(&b); err != nil {
				t.Fatalf("Write: %v", err)
			}
			s.Close()
			s, err = Open(opts)
			if err != nil {
				data, _ := fs.ReadFile(seg)
				t.Fatalf("Open accepted %s as segment 1 and wrote to it; now the log does not open: %v\nsegment 1 starts %x", name, err, data[:24])
			}
			defer s.Close()
			m := walModel{}
			m.apply(&b)
			if err := diffStore(s, m, rand.New(rand.NewPCG(1, 1))); err != nil {
				t.Fatal(err)
			}
		})
	}
}
