package logstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// This file holds what the model, crash, corruption, fault and fuzz tests
// share: a plain model of what a store must hold, a generator of valid
// batches that keeps the model in step, and the comparison of a store
// against the model through nothing but its public read API.

const walDir = "/wal"

// smallOptions are small enough that every workload rotates and purges.
func smallOptions(fs vfs.FS) Options {
	return Options{
		Dir:                 walDir,
		FS:                  fs,
		SegmentBytes:        8 << 10,
		RecordBytesTarget:   2 << 10,
		PurgeThresholdBytes: 24 << 10,
		ManualPurge:         true,
		Logger:              slog.New(slog.DiscardHandler),
	}
}

// ---- the model -------------------------------------------------------

// groupLog is one group's log as consensus.MemoryStorage would hold it.
type groupLog struct {
	hs   consensus.HardState
	snap consensus.SnapshotMeta
	ents []consensus.Entry // the log after snap: ents[k].Index == snap.Index+1+k
}

func (g *groupLog) first() uint64 { return g.snap.Index + 1 }
func (g *groupLog) last() uint64  { return g.snap.Index + uint64(len(g.ents)) }

// term is the term at i, for i in [first-1, last].
func (g *groupLog) term(i uint64) uint64 {
	if i == g.snap.Index {
		return g.snap.Term
	}
	return g.ents[i-g.first()].Term
}

func (g *groupLog) lastTerm() uint64 { return g.term(g.last()) }

// walModel is every group's log; a group absent reads as empty.
type walModel map[uint64]*groupLog

func (m walModel) group(id uint64) *groupLog {
	g := m[id]
	if g == nil {
		g = &groupLog{}
		m[id] = g
	}
	return g
}

// clone copies m so that applying a batch to the copy leaves m alone.
// Entries are never modified, so they are shared.
func (m walModel) clone() walModel {
	c := make(walModel, len(m))
	for id, g := range m {
		cg := *g
		cg.snap.Membership = cloneMembership(g.snap.Membership)
		cg.ents = slices.Clip(g.ents) // an append copies
		c[id] = &cg
	}
	return c
}

// apply does what a successful Write of b does, with MemoryStorage's
// semantics. b must be valid: the model does not check.
func (m walModel) apply(b *Batch) {
	for i := range b.ops {
		o := &b.ops[i]
		g := m.group(o.group)
		switch o.kind {
		case opAppend:
			g.append(o.ents)
		case opHardState:
			g.hs = o.hs
		case opInstall:
			g.snap = consensus.SnapshotMeta{Index: o.snap.Index, Term: o.snap.Term, Membership: cloneMembership(o.snap.Membership)}
			g.ents = nil
		case opCompact:
			if o.snap.Index <= g.snap.Index {
				continue
			}
			i := o.snap.Index
			if i > g.last() {
				panic(fmt.Sprintf("model: compact group %d to %d beyond last %d", o.group, i, g.last()))
			}
			kept := slices.Clip(g.ents[i-g.snap.Index:])
			g.snap = consensus.SnapshotMeta{Index: i, Term: g.term(i), Membership: cloneMembership(o.snap.Membership)}
			g.ents = kept
		}
	}
}

func (g *groupLog) append(ents []consensus.Entry) {
	for len(ents) > 0 && ents[0].Index <= g.snap.Index {
		ents = ents[1:]
	}
	if len(ents) == 0 {
		return
	}
	first := ents[0].Index
	if first > g.last()+1 {
		panic(fmt.Sprintf("model: append at %d after last %d", first, g.last()))
	}
	kept := g.ents[:first-g.first()]
	g.ents = append(slices.Clip(kept), ents...)
}

// ---- comparing a store with the model -----------------------------------

// diffStore returns what differs between s and m, read through the public
// API, or nil. rng picks how Entries is asked (ranges and byte limits) so
// that reads come in pieces, from the cache and from disk.
func diffStore(s *Store, m walModel, rng *rand.Rand) error {
	ids := map[uint64]bool{}
	for id := range m {
		ids[id] = true
	}
	for _, id := range s.Groups() {
		ids[id] = true
	}
	for _, id := range slices.Sorted(mapsKeys(ids)) {
		g := m[id]
		if g == nil {
			g = &groupLog{}
		}
		if err := diffGroup(s.Storage(id), g, rng); err != nil {
			return fmt.Errorf("group %d: %w", id, err)
		}
	}
	return nil
}

func mapsKeys(m map[uint64]bool) func(func(uint64) bool) {
	return func(yield func(uint64) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func diffGroup(st *GroupStorage, g *groupLog, rng *rand.Rand) error {
	hs, err := st.InitialState()
	if err != nil || hs != g.hs {
		return fmt.Errorf("InitialState = %+v, %v; want %+v", hs, err, g.hs)
	}
	snap, err := st.Snapshot()
	if err != nil || !snapEqual(snap, g.snap) {
		return fmt.Errorf("Snapshot = %+v, %v; want %+v", snap, err, g.snap)
	}
	first, err := st.FirstIndex()
	if err != nil || first != g.first() {
		return fmt.Errorf("FirstIndex = %d, %v; want %d", first, err, g.first())
	}
	last, err := st.LastIndex()
	if err != nil || last != g.last() {
		return fmt.Errorf("LastIndex = %d, %v; want %d", last, err, g.last())
	}
	for i := first - 1; i <= last; i++ {
		if t, err := st.Term(i); err != nil || t != g.term(i) {
			return fmt.Errorf("Term(%d) = %d, %v; want %d", i, t, err, g.term(i))
		}
	}
	if first >= 2 {
		if _, err := st.Term(first - 2); !errors.Is(err, consensus.ErrCompacted) {
			return fmt.Errorf("Term(%d) below the snapshot: %v, want ErrCompacted", first-2, err)
		}
		if _, err := st.Entries(first-1, last+1, math.MaxUint64); !errors.Is(err, consensus.ErrCompacted) {
			return fmt.Errorf("Entries(%d, ...) below the first index: %v, want ErrCompacted", first-1, err)
		}
	}
	if _, err := st.Term(last + 1); !errors.Is(err, consensus.ErrUnavailable) {
		return fmt.Errorf("Term(%d) past the last index: %v, want ErrUnavailable", last+1, err)
	}
	if _, err := st.Entries(first, last+2, math.MaxUint64); !errors.Is(err, consensus.ErrUnavailable) {
		return fmt.Errorf("Entries(%d, %d) past the last index: %v, want ErrUnavailable", first, last+2, err)
	}
	// Everything, in pieces: each call may return fewer than asked, never
	// none, and the caller asks again from the next index.
	for lo := first; lo <= last; {
		hi := last + 1
		if rng.IntN(3) == 0 {
			hi = lo + 1 + rng.Uint64N(last+1-lo)
		}
		maxBytes := []uint64{0, 1, 200, 4 << 10, 64 << 10, math.MaxUint64}[rng.IntN(6)]
		got, err := st.Entries(lo, hi, maxBytes)
		if err != nil {
			return fmt.Errorf("Entries(%d, %d, %d): %v", lo, hi, maxBytes, err)
		}
		if len(got) == 0 || uint64(len(got)) > hi-lo {
			return fmt.Errorf("Entries(%d, %d, %d) returned %d entries", lo, hi, maxBytes, len(got))
		}
		for k := range got {
			want := &g.ents[lo-first+uint64(k)]
			if e := &got[k]; e.Index != want.Index || e.Term != want.Term || e.Type != want.Type || !bytes.Equal(e.Data, want.Data) {
				return fmt.Errorf("Entries(%d, %d, %d)[%d] = %s; want %s", lo, hi, maxBytes, k, entryString(e), entryString(want))
			}
		}
		lo += uint64(len(got))
	}
	return nil
}

func snapEqual(a, b consensus.SnapshotMeta) bool {
	return a.Index == b.Index && a.Term == b.Term &&
		slices.Equal(a.Membership.Voters, b.Membership.Voters) &&
		slices.Equal(a.Membership.Learners, b.Membership.Learners)
}

func entryString(e *consensus.Entry) string {
	return fmt.Sprintf("{index %d term %d type %d data %d bytes %x}", e.Index, e.Term, e.Type, len(e.Data), e.Data[:min(8, len(e.Data))])
}

// ---- generating valid batches --------------------------------------------

// batchGen makes random batches that are valid against a model, and applies
// each operation to the model as it adds it, so that the next one is
// valid too. It follows the rules Batch documents: appends start at most
// one past the last index, an overwrite never lowers a term along the
// log, a compaction reaches only persisted entries that the batch has not
// written over, and a snapshot install is never older than the
// compaction point.
type batchGen struct {
	rng    *rand.Rand
	groups int // group ids are 1..groups
	// bigPct is the chance in percent that an entry is larger than a
	// segment.
	bigPct  int
	dataMax int
}

// batchPlan is what the generator tracks of one group within a batch.
type batchPlan struct {
	touched   uint64 // lowest index the batch wrote or removed; 0 if none
	installed bool
}

// batch returns a batch valid against committed, and the model after it.
func (gn *batchGen) batch(committed walModel) (*Batch, walModel) {
	next := committed.clone()
	b := &Batch{}
	plans := map[uint64]*batchPlan{}
	nops := 1 + gn.rng.IntN(4)
	if gn.rng.IntN(4) == 0 {
		nops += gn.rng.IntN(12)
	}
	for range nops {
		id := 1 + gn.rng.Uint64N(uint64(gn.groups))
		p := plans[id]
		if p == nil {
			p = &batchPlan{}
			plans[id] = p
		}
		gn.op(b, id, lastOf(committed, id), next.group(id), p)
	}
	return b, next
}

// op adds one operation of group id to b and applies it to g.
func (gn *batchGen) op(b *Batch, id, committedLast uint64, g *groupLog, p *batchPlan) {
	rng := gn.rng
	var one Batch
	switch k := rng.IntN(100); {
	case k < 45: // append after the last index
		term := g.lastTerm()
		if term == 0 || rng.IntN(10) == 0 {
			term++
		}
		one.Append(id, gn.entries(g.last()+1, 1+rng.IntN(20), term))
	case k < 55: // overwrite a suffix with a higher term, sometimes from below the compaction point
		if g.last() < 1 {
			return
		}
		lo := max(1, g.first()-min(g.first()-1, 3))
		from := lo + rng.Uint64N(g.last()+1-lo)
		one.Append(id, gn.entries(from, 1+rng.IntN(20), g.lastTerm()+1))
	case k < 75:
		one.SetHardState(id, consensus.HardState{Term: g.lastTerm() + rng.Uint64N(2), Vote: rng.Uint64N(4), Commit: rng.Uint64N(g.last() + 1)})
	case k < 92: // compact
		hi := min(committedLast, g.last())
		if p.touched != 0 {
			hi = min(hi, p.touched-1)
		}
		lo := g.snap.Index + 1
		if p.installed || hi < lo {
			if p.installed || rng.IntN(2) == 0 {
				return
			}
			// Below the compaction point: does nothing.
			one.Compact(id, rng.Uint64N(g.snap.Index+1), gn.membership())
			break
		}
		i := lo + rng.Uint64N(hi+1-lo)
		if hi-lo > 30 && rng.IntN(2) == 0 {
			i = hi - rng.Uint64N(10) // keep the logs short
		}
		one.Compact(id, i, gn.membership())
	default: // install a received snapshot, inside the log or past it
		i := g.snap.Index + rng.Uint64N(g.last()-g.snap.Index+1)
		if i == 0 || rng.IntN(2) == 0 {
			i = g.last() + 1 + rng.Uint64N(40)
		}
		one.InstallSnapshot(id, consensus.SnapshotMeta{Index: i, Term: g.lastTerm() + rng.Uint64N(2), Membership: gn.membership()})
	}
	if one.Empty() {
		return
	}
	o := one.ops[0]
	switch o.kind {
	case opAppend:
		first := o.ents[0].Index
		if first <= g.snap.Index {
			first = min(g.snap.Index+1, o.ents[len(o.ents)-1].Index+1)
		}
		if first <= o.ents[len(o.ents)-1].Index && (p.touched == 0 || first < p.touched) {
			p.touched = first
		}
		b.Append(id, o.ents)
	case opHardState:
		b.SetHardState(id, o.hs)
	case opCompact:
		b.Compact(id, o.snap.Index, o.snap.Membership)
	case opInstall:
		p.installed, p.touched = true, 1
		b.InstallSnapshot(id, o.snap)
	}
	walModel{id: g}.apply(&one)
}

// entries returns n entries from index from, all of term term.
func (gn *batchGen) entries(from uint64, n int, term uint64) []consensus.Entry {
	ents := make([]consensus.Entry, n)
	for k := range ents {
		size := gn.rng.IntN(gn.dataMax + 1)
		if gn.rng.IntN(8) == 0 {
			size = 0
		}
		if gn.bigPct > 0 && gn.rng.IntN(100) < gn.bigPct {
			size = 9<<10 + gn.rng.IntN(12<<10)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(gn.rng.Uint32())
		}
		ents[k] = consensus.Entry{Index: from + uint64(k), Term: term, Type: consensus.EntryType(gn.rng.IntN(3)), Data: data}
	}
	return ents
}

func (gn *batchGen) membership() consensus.Membership {
	var m consensus.Membership
	for id := uint64(1); id <= 5; id++ {
		switch gn.rng.IntN(3) {
		case 0:
			m.Voters = append(m.Voters, id)
		case 1:
			if gn.rng.IntN(3) == 0 {
				m.Learners = append(m.Learners, id)
			}
		}
	}
	return m
}

// ---- small helpers ---------------------------------------------------------

// openStore opens a store or fails the test.
func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// segmentFiles returns the paths of the segment files in dir, oldest
// first.
func segmentFiles(t testing.TB, fs vfs.FS) []string {
	t.Helper()
	names, err := fs.List(walDir)
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, n := range names {
		if _, ok := parseSegmentName(n); ok {
			segs = append(segs, walDir+"/"+n)
		}
	}
	return segs
}

// tmpFiles returns the names of the temporary segment files in the
// directory.
func tmpFiles(t testing.TB, fs vfs.FS) []string {
	t.Helper()
	names, err := fs.List(walDir)
	if err != nil {
		t.Fatal(err)
	}
	var tmps []string
	for _, n := range names {
		if strings.HasSuffix(n, tmpSuffix) {
			tmps = append(tmps, n)
		}
	}
	return tmps
}

// diskRecord is one record found in a segment file, for tests that cut or
// flip its bytes.
type diskRecord struct {
	off    int64
	size   int64
	typ    recordType
	endOfW bool
}

// diskRecords walks the intact records of a segment's bytes from its
// start until the first header that does not parse (the end of its data).
func diskRecords(data []byte) []diskRecord {
	var recs []diskRecord
	var off int64
	for off+headerSize <= int64(len(data)) {
		hd, ok := parseHeader(data[off : off+headerSize])
		if !ok || off+recordSize(hd.length) > int64(len(data)) {
			break
		}
		recs = append(recs, diskRecord{off: off, size: recordSize(hd.length), typ: hd.typ, endOfW: hd.flags&flagEndOfWrite != 0})
		off += recordSize(hd.length)
	}
	return recs
}

// lastOf is group id's last index in m, without adding the group.
func lastOf(m walModel, id uint64) uint64 {
	if g := m[id]; g != nil {
		return g.last()
	}
	return 0
}

// failLogSync returns an injector that fails every fsync of the log's
// data, but not the fsync of a new segment's header (a MemFS file keeps
// the name it was opened with, so a segment created by this process is
// still named .tmp: creation is told apart by its calls instead, Create
// and Preallocate before the sync, Rename after).
func failLogSync() func(vfs.Op, string) error {
	var mu sync.Mutex
	creating := false
	return func(op vfs.Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		switch op {
		case vfs.OpCreate, vfs.OpPreallocate:
			creating = true
		case vfs.OpRename:
			creating = false
		case vfs.OpSync:
			if !creating {
				return vfs.ErrInjected
			}
		}
		return nil
	}
}

// raceEnabled reports whether the test binary was built with -race, so
// that the long randomized tests can run fewer seeds under its slowdown.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
