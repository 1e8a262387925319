package logstore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// crashLog is a log built write by write, and for each of its last
// writes, all in the newest segment, what a crash during it would find.
type crashLog struct {
	opts   Options
	newest string // the newest segment's path
	data   []byte // its bytes once every write is done
	tail   []tailWrite
}

// tailWrite is one call that wrote into the newest segment: a Write, or
// a Purge whose relocation writes end before it removes segments.
type tailWrite struct {
	what string
	// before is the file system as the call found it (everything synced):
	// a crash during the call keeps its directory and a prefix of the
	// call's bytes, [start, end) of the newest segment.
	before     *vfs.MemFS
	start, end int64
	// The model before the call, and after it.
	mBefore, mAfter walModel
}

// buildCrashLog writes a log over several segments whose newest segment
// holds the last several writes: compactions, appends of several groups,
// an overwrite (a truncation and its entries in one write), hard states,
// a purge's relocations, a snapshot install followed by entries, and
// records whose payloads end in zero bytes.
func buildCrashLog(t *testing.T) *crashLog {
	fs := vfs.NewMem()
	opts := smallOptions(fs)
	opts.SegmentBytes = 8 << 10
	opts.PurgeThresholdBytes = 8 << 10
	opts.RecordBytesTarget = 512
	s := openStore(t, opts)
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	gn := &batchGen{rng: rng, groups: 3, dataMax: 40}
	cl := &crashLog{opts: opts}
	m := walModel{}
	tail := false // whether the calls now are the ones to cut
	call := func(what string, do func() error, b *Batch) {
		t.Helper()
		tw := tailWrite{what: what, before: fs.Crash(), start: s.active.end, mBefore: m.clone()}
		seg := s.active.id
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if b != nil {
			m.apply(b)
		}
		if !tail {
			return
		}
		if s.active.id != seg {
			t.Fatalf("%s started a new segment; the tail writes must all fit in one", what)
		}
		tw.end, tw.mAfter = s.active.end, m.clone()
		cl.tail = append(cl.tail, tw)
	}
	write := func(what string, fill func(b *Batch)) {
		t.Helper()
		var b Batch
		fill(&b)
		call(what, func() error { return s.Write(&b) }, &b)
	}
	data := func(n int) []byte {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte(rng.Uint32())
		}
		return d
	}
	// Older segments: big appends of three groups, then fillers of a
	// fourth until a new segment starts.
	for i := uint64(1); i <= 16; i++ {
		write(fmt.Sprintf("big append %d", i), func(b *Batch) {
			for g := uint64(1); g <= 3; g++ {
				ents := gn.entries(lastOf(m, g)+1, 2, 1)
				for k := range ents {
					ents[k].Data = data(500)
				}
				b.Append(g, ents)
				b.SetHardState(g, consensus.HardState{Term: 1, Vote: 1, Commit: lastOf(m, g)})
			}
		})
	}
	for first := s.active.id; s.active.id == first; {
		write("filler", func(b *Batch) {
			b.Append(4, []consensus.Entry{{Index: lastOf(m, 4) + 1, Term: 1, Data: data(300)}})
		})
	}
	if s.active.id < 3 {
		t.Fatalf("the log spans %d segments, want at least 3", s.active.id)
	}
	// The writes that the cuts tear, each of several records.
	tail = true
	write("compactions of every group", func(b *Batch) {
		for g := uint64(1); g <= 4; g++ {
			b.Compact(g, lastOf(m, g)-1, consensus.Membership{Voters: []uint64{1, 2, 3}})
		}
	})
	write("appends of three groups", func(b *Batch) {
		for g := uint64(1); g <= 3; g++ {
			b.Append(g, gn.entries(lastOf(m, g)+1, 3, 1))
			b.SetHardState(g, consensus.HardState{Term: 1, Vote: 2, Commit: lastOf(m, g) + 1})
		}
	})
	write("an overwrite and a hard state", func(b *Batch) {
		b.SetHardState(1, consensus.HardState{Term: 2, Vote: 3, Commit: 10})
		b.Append(1, gn.entries(lastOf(m, 1)-2, 4, 2))
	})
	call("purge", s.Purge, nil)
	if s.Stats().RewrittenBytes == 0 || s.Stats().SegmentsRemoved == 0 {
		t.Fatalf("purge moved or removed nothing: %+v", s.Stats())
	}
	write("a compaction, an install and entries after it", func(b *Batch) {
		b.Compact(2, lastOf(m, 2)-1, consensus.Membership{Voters: []uint64{1, 2}, Learners: []uint64{4}})
		b.InstallSnapshot(3, consensus.SnapshotMeta{Index: 100, Term: 3, Membership: consensus.Membership{Voters: []uint64{1}}})
		b.Append(3, gn.entries(101, 2, 3))
	})
	write("records ending in zero bytes", func(b *Batch) {
		b.Append(2, []consensus.Entry{{Index: lastOf(m, 2) + 1, Term: 1}, {Index: lastOf(m, 2) + 2, Term: 1, Data: make([]byte, 30)}})
		b.SetHardState(5, consensus.HardState{})
		b.SetHardState(2, consensus.HardState{Term: 1})
	})
	write("one entry", func(b *Batch) { b.Append(1, gn.entries(lastOf(m, 1)+1, 1, 2)) })
	segs := segmentFiles(t, fs)
	cl.newest = segs[len(segs)-1]
	var err error
	if cl.data, err = fs.ReadFile(cl.newest); err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestCrashAtEveryByte crashes during each of the last writes, at each
// of its bytes: the newest segment keeps the write's bytes up to the cut,
// in both shapes a cut takes (the file shorter, or its preallocated size
// kept with zeros from the cut on), and the directory is as the write
// found it. The store must open; hold exactly what the writes wholly
// before the cut wrote (a write cut anywhere, even between two of its
// records, is dropped whole); count the torn bytes it zeroed; and keep
// working: a write after it, then a reopen and a crash, lose nothing.
func TestCrashAtEveryByte(t *testing.T) {
	cl := buildCrashLog(t)
	// Where each write in the newest segment ends, from the records'
	// end-of-write flags: a purge may write more than once.
	writeEnds := map[int64]bool{}
	for _, r := range diskRecords(cl.data) {
		if r.endOfW {
			writeEnds[r.off+r.size] = true
		}
	}
	for k, tw := range cl.tail {
		if !writeEnds[tw.end] {
			t.Fatalf("%s ended at %d, which is not the end of a write on disk", tw.what, tw.end)
		}
		from := tw.start
		if k > 0 {
			from++ // the previous write's last cut
		}
		t.Run(fmt.Sprintf("%d %s", k+1, tw.what), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, uint64(k)))
			for _, zeroed := range []bool{false, true} {
				shape := map[bool]string{false: "truncated", true: "zeroed"}[zeroed]
				writeStart := tw.start
				for cut := from; cut <= tw.end; cut++ {
					want := tw.mBefore
					if cut == tw.end {
						want = tw.mAfter
					}
					if writeEnds[cut] || cut == tw.start {
						writeStart = cut
					}
					// A crash keeps the bytes of the cut write up to the
					// last that is not zero: those are the torn bytes.
					var torn uint64
					for i := cut; i > writeStart; i-- {
						if cl.data[i-1] != 0 {
							torn = uint64(i - writeStart)
							break
						}
					}
					fs := tw.before.Crash() // a copy
					cutData := append([]byte(nil), cl.data[:cut]...)
					if zeroed {
						cutData = append(cutData, make([]byte, len(cl.data)-int(cut))...)
					}
					if err := fs.WriteFile(cl.newest, cutData); err != nil {
						t.Fatal(err)
					}
					if err := checkCut(fs, cl.opts, want, torn, rng); err != nil {
						t.Fatalf("crash during %q, %s at offset %d (write from %d, call [%d, %d)): %v", tw.what, shape, cut, writeStart, tw.start, tw.end, err)
					}
				}
			}
			t.Logf("%s: cut at each of %d bytes, both ways", cl.newest, tw.end-from+1)
		})
	}
}

// checkCut opens the store on fs and checks it holds want and counted
// torn bytes; then writes, reopens and crashes it.
func checkCut(fs *vfs.MemFS, opts Options, want walModel, torn uint64, rng *rand.Rand) error {
	opts.FS = fs
	s, err := Open(opts)
	if err != nil {
		return fmt.Errorf("Open: %v", err)
	}
	defer s.Close()
	if err := diffStore(s, want, rng); err != nil {
		return fmt.Errorf("after the cut: %v", err)
	}
	if got := s.Stats().TornBytes; got != torn {
		return fmt.Errorf("TornBytes = %d, want %d", got, torn)
	}
	// Writes after the torn tail must not read as continuing it.
	m := want.clone()
	var b Batch
	for g := uint64(1); g <= 3; g++ {
		gm := m.group(g)
		b.Append(g, []consensus.Entry{{Index: gm.last() + 1, Term: gm.lastTerm() + 1, Data: []byte("after the crash")}})
		b.SetHardState(g, consensus.HardState{Term: gm.lastTerm() + 1, Vote: 9, Commit: gm.last()})
	}
	m.apply(&b)
	if err := s.Write(&b); err != nil {
		return fmt.Errorf("Write after the cut: %v", err)
	}
	if err := diffStore(s, m, rng); err != nil {
		return fmt.Errorf("after a write following the cut: %v", err)
	}
	if err := s.Close(); err != nil {
		return err
	}
	opts.FS = fs.Crash()
	s, err = Open(opts)
	if err != nil {
		return fmt.Errorf("reopen after a write following the cut: %v", err)
	}
	defer s.Close()
	if err := diffStore(s, m, rng); err != nil {
		return fmt.Errorf("reopen after a write following the cut: %v", err)
	}
	if t := s.Stats().TornBytes; t != 0 {
		return fmt.Errorf("reopen after a write following the cut: TornBytes = %d: the torn tail was not zeroed durably", t)
	}
	return nil
}
