package logstore

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore/vfs"
)

var (
	modelSeeds = flag.Int("logstore.seeds", 0, "seeds of TestModel (0: 120; 40 with -short; 16 with -race)")
	modelSeed  = flag.Uint64("logstore.seed", 0, "run TestModel with this one seed only")
	modelSteps = flag.Int("logstore.steps", 250, "steps of each TestModel seed")
)

// TestModel drives a store and a plain model with the same random
// operations over several groups: batches that append, overwrite a
// suffix, set hard states, compact and install snapshots, mixed over many
// groups; purges; invalid batches; and crashes, clean or with the last
// write torn, each followed by a reopen. After every step the store must
// read exactly as the model: after a write, the model with the batch
// applied; after a crash, the model as of the last acknowledged write.
//
// Replay a failure with -run TestModel -logstore.seed=N; run longer with
// -logstore.seeds=N.
func TestModel(t *testing.T) {
	seeds := *modelSeeds
	if seeds == 0 {
		switch {
		case testing.Short():
			seeds = 40
		case raceEnabled():
			seeds = 16
		default:
			seeds = 120
		}
	}
	first := uint64(1)
	if *modelSeed != 0 {
		first, seeds = *modelSeed, 1
	}
	for seed := first; seed < first+uint64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, *modelSteps)
		})
	}
}

// modelRun is one seed's store, its file system and the model as of the
// last acknowledged write.
type modelRun struct {
	t         *testing.T
	seed      uint64
	rng       *rand.Rand
	batchGen  *batchGen
	fs        *vfs.MemFS
	opts      Options
	s         *Store
	committed walModel
	step      int
	log       []string // the last steps, for the failure message
	total     Stats    // counters of the stores closed so far
}

func (r *modelRun) addStats() {
	st := r.s.Stats()
	r.total.Writes += st.Writes
	r.total.Rotations += st.Rotations
	r.total.SegmentsRemoved += st.SegmentsRemoved
	r.total.RewrittenBytes += st.RewrittenBytes
	r.total.TornBytes += st.TornBytes
	r.total.DiskReads += st.DiskReads
}

func runModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0x10957043))
	fs := vfs.NewMem()
	opts := smallOptions(fs)
	opts.SegmentBytes = []int64{4 << 10, 8 << 10, 16 << 10}[rng.IntN(3)]
	opts.PurgeThresholdBytes = opts.SegmentBytes * (2 + rng.Int64N(4))
	opts.RecordBytesTarget = []int64{200, 2 << 10, 16 << 10}[rng.IntN(3)]
	if rng.IntN(3) == 0 {
		// Some batches are refused as too large, and purge copies
		// forward in several writes.
		opts.WriteBytesMax = 24 << 10
	}
	opts.GroupCacheBytesMax = []int64{1, 4 << 10, 1 << 20}[rng.IntN(3)]
	r := &modelRun{
		t: t, seed: seed, rng: rng, fs: fs, opts: opts, committed: walModel{},
		batchGen: &batchGen{rng: rng, groups: 1 + rng.IntN(8), bigPct: rng.IntN(2), dataMax: []int{64, 600, 3 << 10}[rng.IntN(3)]},
	}
	r.s = openStore(t, opts)
	defer func() { r.s.Close() }()
	for r.step = 0; r.step < steps; r.step++ {
		switch k := rng.IntN(100); {
		case k < 78:
			r.write()
		case k < 85:
			r.note("purge")
			if err := r.s.Purge(); err != nil {
				r.fatalf("Purge: %v", err)
			}
			r.check("purge")
		case k < 89:
			r.invalid()
		case k < 93:
			r.note("crash")
			live := r.s.Stats().LiveBytes
			r.reopen(r.fs.Crash())
			r.check("crash and reopen")
			if got := r.s.Stats().LiveBytes; got != live {
				r.fatalf("LiveBytes %d before a crash, %d after reopening: the live records were counted differently", live, got)
			}
		case k < 95:
			r.crashTorn()
		case k < 97:
			r.faulty()
		default:
			r.note("close")
			if err := r.s.Close(); err != nil {
				r.fatalf("Close: %v", err)
			}
			r.reopen(r.fs)
			r.check("close and reopen")
		}
	}
	r.drain()
	r.addStats()
	if st := r.total; testing.Verbose() && seed%10 == 0 {
		t.Logf("seed %d: %d writes, %d rotations, %d segments removed, %d bytes rewritten, %d torn bytes, %d disk reads",
			seed, st.Writes, st.Rotations, st.SegmentsRemoved, st.RewrittenBytes, st.TornBytes, st.DiskReads)
	}
}

func (r *modelRun) note(format string, args ...any) {
	r.log = append(r.log, fmt.Sprintf("step %d: ", r.step)+fmt.Sprintf(format, args...))
	if len(r.log) > 12 {
		r.log = r.log[1:]
	}
}

func (r *modelRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("seed=%d step %d: %s\nlast steps:\n  %s", r.seed, r.step, fmt.Sprintf(format, args...), strings.Join(r.log, "\n  "))
}

func (r *modelRun) check(after string) {
	r.t.Helper()
	if err := diffStore(r.s, r.committed, r.rng); err != nil {
		r.fatalf("after %s, the store differs from the model: %v", after, err)
	}
}

// reopen opens the store again on fs; the old store, if still open, is
// dropped as a crashed process would be.
func (r *modelRun) reopen(fs *vfs.MemFS) {
	r.t.Helper()
	r.addStats()
	r.s.Close()
	r.fs = fs
	r.opts.FS = fs
	if r.rng.IntN(3) == 0 {
		// A restart with other settings reads the same log.
		r.opts.SegmentBytes = []int64{4 << 10, 8 << 10, 16 << 10}[r.rng.IntN(3)]
		r.opts.PurgeThresholdBytes = r.opts.SegmentBytes * (1 + r.rng.Int64N(4))
		r.opts.RecordBytesTarget = []int64{200, 2 << 10, 16 << 10}[r.rng.IntN(3)]
		r.opts.GroupCacheBytesMax = []int64{1, 4 << 10, 1 << 20}[r.rng.IntN(3)]
	}
	s, err := Open(r.opts)
	if err != nil {
		r.fatalf("reopen: %v", err)
	}
	r.s = s
}

func (r *modelRun) write() {
	r.t.Helper()
	b, next := r.batchGen.batch(r.committed)
	r.note("write %s", describeBatch(b))
	err := r.s.Write(b)
	if r.tooLarge(b, err) {
		return
	}
	if err != nil {
		r.fatalf("Write: %v", err)
	}
	r.committed = next
	r.check("write")
}

// tooLarge reports whether err refused b as larger than WriteBytesMax,
// after checking the refusal: b is large, and the store, unchanged, goes
// on.
func (r *modelRun) tooLarge(b *Batch, err error) bool {
	r.t.Helper()
	if !errors.Is(err, ErrWriteTooLarge) {
		return false
	}
	if r.opts.WriteBytesMax == 0 || batchBytes(b) < r.opts.WriteBytesMax/2 {
		r.fatalf("a batch of %d bytes of data refused: %v", batchBytes(b), err)
	}
	if err := r.s.Err(); err != nil {
		r.fatalf("a batch too large stopped the store: %v", err)
	}
	r.check("a batch refused as too large")
	return true
}

// batchBytes is the data the batch's entries carry.
func batchBytes(b *Batch) int64 {
	var n int64
	for _, o := range b.ops {
		for _, e := range o.ents {
			n += int64(len(e.Data))
		}
	}
	return n
}

// crashTorn crashes in the middle of a write: its fsync fails, so its
// bytes are in the segment but not synced, and the crash keeps a random
// prefix of them. The write was never acknowledged: the reopened store
// must hold the model without it, or (if the crash happened to keep all
// of it) with it.
func (r *modelRun) crashTorn() {
	r.t.Helper()
	b, next := r.batchGen.batch(r.committed)
	r.note("write with a failing fsync, then a torn crash: %s", describeBatch(b))
	r.fs.SetInjector(failLogSync())
	writes := r.s.Stats().Writes
	err := r.s.Write(b)
	r.fs.SetInjector(nil)
	if r.tooLarge(b, err) {
		return
	}
	if err == nil && r.s.Stats().Writes == writes {
		// Nothing to write (every operation did nothing), so no fsync.
		r.committed = next
		r.check("a write with nothing to write")
		return
	}
	if !errors.Is(err, ErrFailed) || !errors.Is(err, vfs.ErrInjected) {
		r.fatalf("Write with a failing fsync: %v, want ErrFailed wrapping vfs.ErrInjected", err)
	}
	r.reopen(r.fs.CrashTorn(r.rng))
	errOld := diffStore(r.s, r.committed, r.rng)
	if errOld == nil {
		return
	}
	if errNew := diffStore(r.s, next, r.rng); errNew != nil {
		r.fatalf("after a torn crash, the store is neither the model before the unacknowledged write (%v) nor after it (%v)", errOld, errNew)
	}
	r.committed = next
}

// drain makes every record of the old segments dead, in one write: each
// group compacts to its last index (or, with no entries, installs its
// snapshot again) and sets its hard state again. A purge must then remove
// every segment but the newest: none is pinned by a record nothing needs.
func (r *modelRun) drain() {
	r.t.Helper()
	var b Batch
	for _, id := range slices.Sorted(maps.Keys(r.committed)) {
		g := r.committed[id]
		if g.last() > g.snap.Index {
			b.Compact(id, g.last(), g.snap.Membership)
		} else {
			b.InstallSnapshot(id, g.snap)
		}
		b.SetHardState(id, g.hs)
	}
	r.step = -1
	r.note("drain: %s", describeBatch(&b))
	if err := r.s.Write(&b); err != nil {
		r.fatalf("drain: %v", err)
	}
	r.committed.apply(&b)
	if err := r.s.Purge(); err != nil {
		r.fatalf("purge after the drain: %v", err)
	}
	r.check("drain")
	if st := r.s.Stats(); st.Segments != 1 {
		r.fatalf("after every group compacted everything and a purge, %d segments remain (%d live bytes)", st.Segments, st.LiveBytes)
	}
}

// faulty runs a write or a purge during which the n-th call of one
// file-system operation fails. A failure that stops the store is followed
// by a crash, torn or not, and a reopen, which must find the model as of
// the last acknowledged write (or, for a failed write that reached the
// disk whole, with it). A failure that does not stop the store must leave
// it as it was.
func (r *modelRun) faulty() {
	r.t.Helper()
	ops := []vfs.Op{vfs.OpWrite, vfs.OpSync, vfs.OpCreate, vfs.OpPreallocate, vfs.OpRename, vfs.OpSyncDir, vfs.OpRemove}
	op, n := ops[r.rng.IntN(len(ops))], 1+r.rng.IntN(3)
	purge := r.rng.IntN(3) == 0
	var b *Batch
	next := r.committed
	if purge {
		r.note("purge with %s #%d failing", op, n)
	} else {
		b, next = r.batchGen.batch(r.committed)
		r.note("write with %s #%d failing: %s", op, n, describeBatch(b))
	}
	r.fs.SetInjector(vfs.FailNth(op, n, nil))
	var err error
	if purge {
		err = r.s.Purge()
	} else {
		err = r.s.Write(b)
	}
	r.fs.SetInjector(nil)
	if !purge && r.tooLarge(b, err) {
		return
	}
	switch {
	case err == nil:
		r.committed = next
		r.check("a step whose fault did not come")
		return
	case !errors.Is(err, vfs.ErrInjected):
		r.fatalf("%v, want the injected error wrapped", err)
	case r.s.Err() == nil:
		if errors.Is(err, ErrFailed) {
			r.fatalf("%v, but Err() is nil", err)
		}
		if tmps := tmpFiles(r.t, r.fs); len(tmps) > 0 {
			r.fatalf("a failed segment creation left %v", tmps)
		}
		r.check("a failure that did not stop the store")
		return
	case !errors.Is(err, ErrFailed):
		r.fatalf("%v stopped the store without wrapping ErrFailed", err)
	}
	crashed := r.fs.Crash()
	if r.rng.IntN(2) == 0 {
		crashed = r.fs.CrashTorn(r.rng)
	}
	r.reopen(crashed)
	errOld := diffStore(r.s, r.committed, r.rng)
	if errOld == nil {
		return
	}
	if errNew := diffStore(r.s, next, r.rng); purge || errNew != nil {
		r.fatalf("after a failure and a crash, the store is neither the model before the unacknowledged step (%v) nor after it (%v)", errOld, errNew)
	}
	r.committed = next
}

// invalid writes a batch whose last operation breaks the log's shape: the
// whole batch must be refused with ErrInvalidWrite, nothing of it
// written, and the store must stay usable.
func (r *modelRun) invalid() {
	r.t.Helper()
	b, _ := r.batchGen.batch(r.committed)
	// The bad operation is on a group the rest of the batch leaves alone,
	// so it is checked against what is persisted.
	id := 1 + r.rng.Uint64N(uint64(r.batchGen.groups))
	var ok Batch
	for _, o := range b.ops {
		if o.group != id {
			ok.ops = append(ok.ops, o)
		}
	}
	g := r.committed[id]
	if g == nil {
		g = &groupLog{}
	}
	what, bad := invalidOp(r.rng, r.batchGen, id, g)
	ok.ops = append(ok.ops, bad.ops...)
	r.note("invalid write (%s): %s", what, describeBatch(&ok))
	if err := r.s.Write(&ok); !errors.Is(err, ErrInvalidWrite) {
		r.fatalf("Write with %s: %v, want ErrInvalidWrite", what, err)
	}
	if err := r.s.Err(); err != nil {
		r.fatalf("an invalid write stopped the store: %v", err)
	}
	r.check("an invalid write")
}

// invalidOp returns an operation on group id, whose log is g, that Write
// must refuse, and what is wrong with it.
func invalidOp(rng *rand.Rand, gn *batchGen, id uint64, g *groupLog) (string, *Batch) {
	var b Batch
	for {
		switch rng.IntN(7) {
		case 0:
			b.Append(id, gn.entries(g.last()+2, 1+rng.IntN(3), g.lastTerm()+1))
			return "a gap", &b
		case 1:
			if g.lastTerm() == 0 {
				continue
			}
			b.Append(id, gn.entries(g.last()+1, 1+rng.IntN(3), g.lastTerm()-1))
			return "a term going down after the last entry", &b
		case 2:
			// An overwrite from i whose term is below the term at i-1.
			if g.last() < g.first() || g.term(g.first()-1) == 0 {
				continue
			}
			i := g.first() + rng.Uint64N(g.last()+1-g.first())
			b.Append(id, gn.entries(i, 1+rng.IntN(3), g.term(i-1)-1))
			return fmt.Sprintf("an overwrite from %d with a term below the term at %d", i, i-1), &b
		case 3:
			ents := gn.entries(g.last()+1, 3, g.lastTerm()+1)
			ents[2].Index++
			b.Append(id, ents)
			return "entries not contiguous", &b
		case 4:
			ents := gn.entries(g.last()+1, 3, g.lastTerm()+2)
			ents[2].Term -= 2
			b.Append(id, ents)
			return "terms going down inside the entries", &b
		case 5:
			b.Compact(id, g.last()+1, gn.membership())
			return "a compaction past the last index", &b
		case 6:
			if g.snap.Index == 0 {
				continue
			}
			b.InstallSnapshot(id, consensus.SnapshotMeta{Index: g.snap.Index - 1, Term: g.snap.Term, Membership: gn.membership()})
			return "a snapshot older than the compaction point", &b
		}
	}
}

// describeBatch is a one-line summary of a batch, for failure messages.
func describeBatch(b *Batch) string {
	var sb strings.Builder
	for i, o := range b.ops {
		if i > 0 {
			sb.WriteString("; ")
		}
		switch o.kind {
		case opAppend:
			fmt.Fprintf(&sb, "g%d append [%d, %d] term %d", o.group, o.ents[0].Index, o.ents[len(o.ents)-1].Index, o.ents[0].Term)
		case opHardState:
			fmt.Fprintf(&sb, "g%d hs %+v", o.group, o.hs)
		case opCompact:
			fmt.Fprintf(&sb, "g%d compact %d", o.group, o.snap.Index)
		case opInstall:
			fmt.Fprintf(&sb, "g%d install %d term %d", o.group, o.snap.Index, o.snap.Term)
		}
	}
	return sb.String()
}

// TestWriteRefusesInvalidBatch checks each way a batch can break a
// group's log, alone and after an earlier valid operation of the same
// group in the same batch: Write refuses the whole batch with
// ErrInvalidWrite, writes nothing, and the store stays usable.
func TestWriteRefusesInvalidBatch(t *testing.T) {
	ent := func(i, term uint64) consensus.Entry {
		return consensus.Entry{Index: i, Term: term, Data: []byte(fmt.Sprintf("e%d.%d", i, term))}
	}
	ents := func(from, to, term uint64) []consensus.Entry {
		var es []consensus.Entry
		for i := from; i <= to; i++ {
			es = append(es, ent(i, term))
		}
		return es
	}
	// Group 1 holds [1, 10]: 1-5 of term 1, 6-10 of term 2. Group 2 has
	// a snapshot at 5 and [6, 8] of term 3.
	setup := func(b *Batch) {
		b.Append(1, ents(1, 5, 1))
		b.Append(1, ents(6, 10, 2))
		b.InstallSnapshot(2, consensus.SnapshotMeta{Index: 5, Term: 3})
		b.Append(2, ents(6, 8, 3))
	}
	cases := []struct {
		name  string
		batch func(b *Batch)
	}{
		{"gap after the last index", func(b *Batch) { b.Append(1, ents(12, 12, 2)) }},
		{"term below the last term", func(b *Batch) { b.Append(1, ents(11, 11, 1)) }},
		{"overwrite with a term below the previous entry's", func(b *Batch) { b.Append(1, ents(8, 9, 1)) }},
		{"entries not contiguous", func(b *Batch) { b.Append(1, []consensus.Entry{ent(11, 2), ent(13, 2)}) }},
		{"terms going down inside the entries", func(b *Batch) { b.Append(1, []consensus.Entry{ent(11, 3), ent(12, 2)}) }},
		{"entry index 0", func(b *Batch) { b.Append(3, []consensus.Entry{ent(0, 1)}) }},
		{"compaction past the last index", func(b *Batch) { b.Compact(1, 11, consensus.Membership{}) }},
		{"compaction of an unknown group", func(b *Batch) { b.Compact(3, 1, consensus.Membership{}) }},
		{"snapshot older than the compaction point", func(b *Batch) { b.InstallSnapshot(2, consensus.SnapshotMeta{Index: 4, Term: 3}) }},
		{"compaction reaching entries the batch wrote", func(b *Batch) {
			b.Append(1, ents(11, 12, 2))
			b.Compact(1, 11, consensus.Membership{})
		}},
		{"compaction after an install in the batch", func(b *Batch) {
			b.InstallSnapshot(1, consensus.SnapshotMeta{Index: 20, Term: 4})
			b.Compact(1, 21, consensus.Membership{})
		}},
		{"gap after entries the batch appended", func(b *Batch) {
			b.Append(1, ents(11, 12, 2))
			b.Append(1, ents(14, 14, 2))
		}},
		{"term below the last term of entries the batch appended", func(b *Batch) {
			b.Append(1, ents(11, 12, 3))
			b.Append(1, ents(13, 13, 2))
		}},
		{"overwrite with a term below that of an entry the batch appended", func(b *Batch) {
			// 11-14 of term 3, then 13-14 of term 2: the log's terms
			// would go down from 3 at 12 to 2 at 13.
			b.Append(1, ents(11, 14, 3))
			b.Append(1, ents(13, 14, 2))
		}},
		{"overwrite with a term below the previous entry's after a hard state", func(b *Batch) {
			b.SetHardState(1, consensus.HardState{Term: 2, Commit: 3})
			b.Append(1, ents(8, 9, 1))
		}},
		{"overwrite below the term of a snapshot installed by the batch", func(b *Batch) {
			b.InstallSnapshot(1, consensus.SnapshotMeta{Index: 20, Term: 5})
			b.Append(1, ents(21, 21, 4))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s := openStore(t, smallOptions(fs))
			defer s.Close()
			var b Batch
			setup(&b)
			m := walModel{}
			m.apply(&b)
			if err := s.Write(&b); err != nil {
				t.Fatal(err)
			}
			var bad Batch
			bad.SetHardState(4, consensus.HardState{Term: 9, Vote: 1}) // a valid operation of another group
			tc.batch(&bad)
			if err := s.Write(&bad); !errors.Is(err, ErrInvalidWrite) {
				t.Fatalf("Write: %v, want ErrInvalidWrite; the store now reads: %s", err, describeStore(s, 1, 2, 3, 4))
			}
			if err := diffStore(s, m, rand.New(rand.NewPCG(1, 2))); err != nil {
				t.Fatalf("the refused batch changed the store: %v", err)
			}
			// Still usable, and nothing of the refused batch is on disk.
			var more Batch
			more.Append(1, ents(11, 11, 2))
			m.apply(&more)
			if err := s.Write(&more); err != nil {
				t.Fatalf("Write after a refused batch: %v", err)
			}
			s2 := openStore(t, Options{Dir: walDir, FS: fs.Crash(), ManualPurge: true, Logger: smallOptions(nil).Logger})
			defer s2.Close()
			if err := diffStore(s2, m, rand.New(rand.NewPCG(1, 2))); err != nil {
				t.Fatalf("after a crash: %v", err)
			}
		})
	}
}

// describeStore summarizes groups' logs: bounds and terms.
func describeStore(s *Store, groups ...uint64) string {
	var sb strings.Builder
	for _, id := range groups {
		st := s.Storage(id)
		first, _ := st.FirstIndex()
		last, _ := st.LastIndex()
		fmt.Fprintf(&sb, "[group %d: first %d last %d terms", id, first, last)
		for i := first; i <= last; i++ {
			tm, _ := st.Term(i)
			fmt.Fprintf(&sb, " %d:%d", i, tm)
		}
		sb.WriteString("] ")
	}
	return sb.String()
}

// TestConcurrentReadersDuringPurge reads every group's log from disk (the
// cache keeps nothing) while one writer appends, compacts and purges, so
// that purge relocates records and removes segments under the readers.
// Storage's contract allows a read that races a write to see the log
// before it or after it, and to be told ErrCompacted or ErrUnavailable
// when the log moved under it; it allows no other error. Each entry's
// data carries its group, index and term, so any entry returned can be
// checked.
func TestConcurrentReadersDuringPurge(t *testing.T) {
	fs := vfs.NewMem()
	opts := smallOptions(fs)
	opts.SegmentBytes = 4 << 10
	opts.PurgeThresholdBytes = 8 << 10
	opts.RecordBytesTarget = 300
	opts.GroupCacheBytesMax = 1
	s := openStore(t, opts)
	defer s.Close()
	const groups = 4
	writes := 1500
	if testing.Short() || raceEnabled() {
		writes = 500
	}
	stamp := func(g uint64, e *consensus.Entry, filler int) {
		e.Data = fmt.Appendf(nil, "g%d i%d t%d ", g, e.Index, e.Term)
		e.Data = append(e.Data, make([]byte, filler)...)
	}
	done := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for reader := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(reader), 9))
			for {
				select {
				case <-done:
					return
				default:
				}
				g := 1 + rng.Uint64N(groups)
				st := s.Storage(g)
				first, _ := st.FirstIndex()
				last, _ := st.LastIndex()
				for lo := first; lo <= last; {
					ents, err := st.Entries(lo, last+1, uint64(rng.IntN(2000)))
					if errors.Is(err, consensus.ErrCompacted) || errors.Is(err, consensus.ErrUnavailable) {
						break
					}
					if err != nil {
						errs <- fmt.Errorf("group %d: Entries(%d, %d): %w", g, lo, last+1, err)
						return
					}
					for k, e := range ents {
						want := fmt.Sprintf("g%d i%d t%d ", g, lo+uint64(k), e.Term)
						if e.Index != lo+uint64(k) || !strings.HasPrefix(string(e.Data), want) {
							errs <- fmt.Errorf("group %d: Entries(%d, %d)[%d] = index %d data %q, want %q", g, lo, last+1, k, e.Index, e.Data[:min(len(e.Data), 24)], want)
							return
						}
					}
					lo += uint64(len(ents))
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(3, 9))
	m := walModel{}
	var failure error
	for w := 0; w < writes && failure == nil; w++ {
		var b Batch
		for g := uint64(1); g <= groups; g++ {
			gm := m.group(g)
			ents := make([]consensus.Entry, 1+rng.IntN(4))
			for k := range ents {
				ents[k] = consensus.Entry{Index: gm.last() + 1 + uint64(k), Term: max(1, gm.lastTerm())}
				stamp(g, &ents[k], rng.IntN(300))
			}
			b.Append(g, ents)
			if gm.last() > 40 && rng.IntN(4) == 0 {
				b.Compact(g, gm.last()-20-rng.Uint64N(10), consensus.Membership{Voters: []uint64{1}})
			}
		}
		if err := s.Write(&b); err != nil {
			t.Fatal(err)
		}
		m.apply(&b)
		if w%3 == 0 {
			if err := s.Purge(); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case failure = <-errs:
		default:
		}
	}
	close(done)
	wg.Wait()
	if failure == nil {
		select {
		case failure = <-errs:
		default:
		}
	}
	st := s.Stats()
	t.Logf("%d writes, %d segments removed, %d bytes rewritten, %d disk reads", st.Writes, st.SegmentsRemoved, st.RewrittenBytes, st.DiskReads)
	if failure != nil {
		t.Fatalf("a reader racing purge: %v", failure)
	}
	if err := diffStore(s, m, rng); err != nil {
		t.Fatal(err)
	}
}

// TestEntriesRacingPurge pins down one interleaving of a reader and
// purge. A group's entries 1 and 2 are two records of the oldest
// segment, which purge is about to move forward and remove. A reader
// asks for both: Entries notes where they are, lets go of the index, and
// reads the first record; while it reads, purge copies both records
// forward, repoints the index and removes the segment, which is what the
// design allows ("without holding any lock across a disk read that a
// writer would wait for"). The reader must still get the entries (or, at
// worst, an error the consensus core can retry on), not a corruption
// error for a log that is intact.
func TestEntriesRacingPurge(t *testing.T) {
	fs := vfs.NewMem()
	opts := smallOptions(fs)
	opts.SegmentBytes = 4 << 10
	opts.PurgeThresholdBytes = 4 << 10
	opts.GroupCacheBytesMax = 1
	s := openStore(t, opts)
	defer s.Close()
	m := walModel{}
	write := func(fill func(b *Batch)) {
		t.Helper()
		var b Batch
		fill(&b)
		if err := s.Write(&b); err != nil {
			t.Fatal(err)
		}
		m.apply(&b)
	}
	for i := uint64(1); i <= 2; i++ {
		write(func(b *Batch) {
			b.Append(1, []consensus.Entry{{Index: i, Term: 1, Data: fmt.Appendf(nil, "entry %d", i)}})
		})
	}
	// Group 2 fills the first segment, starts the second, and compacts
	// all of it away: the first segment is then mostly dead.
	for s.active.id == 1 {
		write(func(b *Batch) {
			b.Append(2, []consensus.Entry{{Index: lastOf(m, 2) + 1, Term: 1, Data: make([]byte, 1000)}})
		})
	}
	write(func(b *Batch) { b.Compact(2, lastOf(m, 2), consensus.Membership{}) })

	// The reader's first read waits until purge has synced its copies;
	// purge's removal of the segment then waits for the read to end.
	inRead, purgeSynced := make(chan struct{}), make(chan struct{})
	var firstRead atomic.Bool
	var syncOnce sync.Once
	fs.SetInjector(func(op vfs.Op, name string) error {
		switch op {
		case vfs.OpRead:
			if firstRead.CompareAndSwap(false, true) { // not purge's own reads
				close(inRead)
				<-purgeSynced
			}
		case vfs.OpSync:
			syncOnce.Do(func() { close(purgeSynced) })
		}
		return nil
	})
	type result struct {
		ents []consensus.Entry
		err  error
	}
	got := make(chan result, 1)
	go func() {
		ents, err := s.Storage(1).Entries(1, 3, math.MaxUint64)
		got <- result{ents, err}
	}()
	<-inRead
	if err := s.Purge(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.SegmentsRemoved != 1 {
		t.Fatalf("purge removed %d segments, want the first", st.SegmentsRemoved)
	}
	r := <-got
	if r.err != nil {
		t.Fatalf("Entries(1, 3) racing a purge that moved its records: %v", r.err)
	}
	if len(r.ents) != 2 || string(r.ents[0].Data) != "entry 1" || string(r.ents[1].Data) != "entry 2" {
		t.Fatalf("Entries(1, 3) racing a purge = %v", r.ents)
	}
	if err := diffStore(s, m, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
}
