package logstore

import (
	"fmt"
	"slices"
	"sync"

	"github.com/raftpipe/raftpipe/consensus"
)

// groupIndex is what the store knows of one group without reading a
// segment: its hard state and compaction point, and where each live entry
// is on disk. Writers hold mu for writing; readers for reading.
type groupIndex struct {
	mu sync.RWMutex

	hs    consensus.HardState
	hsRef ref // the record holding hs; zero if none
	// snap is the compaction point: the newest snapshot, received or taken
	// locally. The log starts right after it.
	snap    consensus.SnapshotMeta
	snapRef ref
	// runs locate the live entries, sorted by index and contiguous from
	// snap.Index+1 once recovery is over: each is a record's entries, or a
	// part of them after truncation or compaction.
	runs  []run
	cache entryCache
}

// ref is a record in a segment, counted live while anything points at it.
// Segment ids and sizes fit 32 bits (Options.Validate and rotate see to
// it), which keeps a run, the index's unit of memory, at 40 bytes.
type ref struct {
	seg  uint32 // segment id; 0 for none
	size uint32 // the record's size on disk
}

// run is the live part [first, last()] of one entries record.
type run struct {
	first uint64
	// term is the term of every entry of the run, unless terms (a few
	// entries of a record spanning a term change) says otherwise.
	term  uint64
	terms *[]termStart
	n     uint32 // entries in the run, at least 1
	ref
	off uint32 // the record's offset in its segment
}

func newRun(first, last uint64, at ref, off int64) run {
	return run{first: first, n: uint32(last - first + 1), ref: at, off: uint32(off)}
}

func (r *run) last() uint64 { return r.first + uint64(r.n) - 1 }

// termStart says entries from index on have term, up to the next one.
type termStart struct{ index, term uint64 }

// termList boxes ts, so that a run spends one pointer on the rare case.
func termList(ts []termStart) *[]termStart { return &ts }

func (r *run) termAt(i uint64) uint64 {
	if r.terms == nil {
		return r.term
	}
	t := r.term
	for _, ts := range *r.terms {
		if ts.index > i {
			break
		}
		t = ts.term
	}
	return t
}

// setTerms sets r's terms from the entries it covers.
func (r *run) setTerms(ents []consensus.Entry) {
	r.term, r.terms = ents[0].Term, nil
	var ts []termStart
	for i := 1; i < len(ents); i++ {
		if ents[i].Term != ents[i-1].Term {
			if ts == nil {
				ts = []termStart{{ents[0].Index, ents[0].Term}}
			}
			ts = append(ts, termStart{ents[i].Index, ents[i].Term})
		}
	}
	if ts != nil {
		r.terms = termList(ts)
	}
}

// cut keeps [first, last] of r, which must overlap it.
func (r run) cut(first, last uint64) run {
	if first > r.first {
		r.term = r.termAt(first)
		r.n -= uint32(first - r.first)
		r.first = first
	}
	r.n = uint32(min(r.last(), last) - r.first + 1)
	if r.terms != nil {
		var ts []termStart
		for _, t := range *r.terms {
			if t.index > r.first && t.index <= r.last() {
				ts = append(ts, t)
			}
		}
		r.terms = nil
		if len(ts) > 0 {
			r.terms = termList(append([]termStart{{r.first, r.term}}, ts...))
		}
	}
	return r
}

// refs counts, per segment, the records still pointing into it.
type refs interface {
	acquire(ref)
	release(ref)
}

func (g *groupIndex) first() uint64 { return g.snap.Index + 1 }

// last is the last index, or the compaction point when no entry is kept.
func (g *groupIndex) last() uint64 {
	if n := len(g.runs); n > 0 {
		return g.runs[n-1].last()
	}
	return g.snap.Index
}

// find returns the position of the run holding i, or -1.
func (g *groupIndex) find(i uint64) int {
	k, _ := slices.BinarySearchFunc(g.runs, i, func(r run, i uint64) int {
		switch {
		case r.last() < i:
			return -1
		case r.first > i:
			return 1
		}
		return 0
	})
	if k < len(g.runs) && g.runs[k].first <= i && i <= g.runs[k].last() {
		return k
	}
	return -1
}

// term returns the term at i, for i in [first-1, last].
func (g *groupIndex) term(i uint64) (uint64, error) {
	switch {
	case i == g.snap.Index:
		return g.snap.Term, nil
	case i < g.snap.Index:
		return 0, consensus.ErrCompacted
	case i > g.last():
		return 0, consensus.ErrUnavailable
	}
	if e, ok := g.cache.get(i); ok {
		return e.Term, nil
	}
	k := g.find(i)
	if k < 0 {
		return 0, fmt.Errorf("%w: no run holds index %d", ErrCorruptLog, i)
	}
	return g.runs[k].termAt(i), nil
}

// truncateFrom removes the entries from index i on.
func (g *groupIndex) truncateFrom(i uint64, rs refs) {
	k, _ := slices.BinarySearchFunc(g.runs, i, func(r run, i uint64) int {
		if r.last() < i {
			return -1
		}
		return 1
	})
	for _, r := range g.runs[k:] {
		if r.first >= i {
			rs.release(r.ref)
		}
	}
	if k < len(g.runs) && g.runs[k].first < i {
		g.runs[k] = g.runs[k].cut(g.runs[k].first, i-1)
		k++
	}
	clear(g.runs[k:])
	g.runs = g.runs[:k]
	g.cache.truncateFrom(i)
}

// compactTo drops the entries up to i and makes snap the compaction point.
func (g *groupIndex) compactTo(snap consensus.SnapshotMeta, at ref, rs refs) {
	i := snap.Index
	k := 0
	for k < len(g.runs) && g.runs[k].last() <= i {
		rs.release(g.runs[k].ref)
		k++
	}
	if k < len(g.runs) && g.runs[k].first <= i {
		g.runs[k] = g.runs[k].cut(i+1, g.runs[k].last())
	}
	if k > 0 {
		// Shift down rather than reslice, so the array does not creep.
		n := copy(g.runs, g.runs[k:])
		clear(g.runs[n:])
		g.runs = g.runs[:n]
	}
	g.cache.compactTo(i)
	g.setSnap(snap, at, rs)
}

func (g *groupIndex) setSnap(snap consensus.SnapshotMeta, at ref, rs refs) {
	if g.snapRef.seg != 0 {
		rs.release(g.snapRef)
	}
	g.snap, g.snapRef = snap, at
	rs.acquire(at)
}

func (g *groupIndex) setHardState(hs consensus.HardState, at ref, rs refs) {
	if g.hsRef.seg != 0 {
		rs.release(g.hsRef)
	}
	g.hs, g.hsRef = hs, at
	rs.acquire(at)
}

// install replaces the whole log by a received snapshot.
func (g *groupIndex) install(snap consensus.SnapshotMeta, at ref, rs refs) {
	for _, r := range g.runs {
		rs.release(r.ref)
	}
	clear(g.runs)
	g.runs = g.runs[:0]
	g.cache.reset()
	g.setSnap(snap, at, rs)
}

// put records that the entries of r live where it says, replacing whatever
// located them before: an append at the end, or purge's relocation of
// entries already known (or, in recovery, not yet seen: their first record
// may sit in a segment already removed).
func (g *groupIndex) put(r run, rs refs) {
	rs.acquire(r.ref)
	if n := len(g.runs); n == 0 || g.runs[n-1].last() < r.first {
		g.runs = append(g.runs, r)
		return
	}
	var out []run
	for _, old := range g.runs {
		if old.last() < r.first || old.first > r.last() {
			out = append(out, old)
			continue
		}
		pieces := 0
		if old.first < r.first {
			out = append(out, old.cut(old.first, r.first-1))
			pieces++
		}
		if old.last() > r.last() {
			out = append(out, old.cut(r.last()+1, old.last()))
			pieces++
		}
		switch pieces {
		case 0:
			rs.release(old.ref)
		case 2:
			rs.acquire(old.ref) // one record, two runs
		}
	}
	k, _ := slices.BinarySearchFunc(out, r.first, func(o run, i uint64) int {
		if o.first < i {
			return -1
		}
		return 1
	})
	g.runs = slices.Insert(out, k, r)
}

// memoryBytes is what the group's index and cache hold.
func (g *groupIndex) memoryBytes() (index, cache int64) {
	index = int64(cap(g.runs)) * runBytes
	for _, r := range g.runs {
		if r.terms != nil {
			index += int64(cap(*r.terms))*16 + 24
		}
	}
	return index, g.cache.bytes
}

const runBytes = 40 // unsafe.Sizeof(run{})
