package logstore

import (
	"errors"
	"fmt"

	"github.com/raftpipe/raftpipe/consensus"
)

// GroupStorage is one group's log as the consensus core reads it. It reads
// the index in memory, then the cache, and only then the disk, without
// holding any lock across a disk read that a writer would wait for.
type GroupStorage struct {
	s     *Store
	group uint64
}

var _ consensus.Storage = (*GroupStorage)(nil)

// Storage returns the read view of one group's log. The group need not
// exist yet: it then reads as empty.
func (s *Store) Storage(group uint64) *GroupStorage { return &GroupStorage{s: s, group: group} }

// read runs f on the group's index under its read lock; an unknown group
// reads as an empty one.
func (gs *GroupStorage) read(f func(g *groupIndex) error) error {
	if err := gs.s.Err(); err != nil {
		return err
	}
	g := gs.s.group(gs.group)
	if g == nil {
		g = &groupIndex{}
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	return f(g)
}

func (gs *GroupStorage) InitialState() (hs consensus.HardState, err error) {
	err = gs.read(func(g *groupIndex) error { hs = g.hs; return nil })
	return hs, err
}

func (gs *GroupStorage) Snapshot() (snap consensus.SnapshotMeta, err error) {
	err = gs.read(func(g *groupIndex) error {
		snap = g.snap
		snap.Membership = cloneMembership(g.snap.Membership)
		return nil
	})
	return snap, err
}

func (gs *GroupStorage) FirstIndex() (i uint64, err error) {
	err = gs.read(func(g *groupIndex) error { i = g.first(); return nil })
	return i, err
}

func (gs *GroupStorage) LastIndex() (i uint64, err error) {
	err = gs.read(func(g *groupIndex) error { i = g.last(); return nil })
	return i, err
}

func (gs *GroupStorage) Term(i uint64) (t uint64, err error) {
	err = gs.read(func(g *groupIndex) (err error) { t, err = g.term(i); return err })
	return t, err
}

// Entries returns entries in [lo, hi) within maxBytes, at least one. It
// may return fewer than asked: cached entries and entries read from disk
// are not mixed in one call, and a call reads records only as far as
// maxBytes goes.
func (gs *GroupStorage) Entries(lo, hi, maxBytes uint64) ([]consensus.Entry, error) {
	for range 8 {
		ents, err := gs.entries(lo, hi, maxBytes)
		if !errors.Is(err, errSegmentGone) {
			return ents, err
		}
		// Purge copied the records forward and removed their segment
		// between the index lookup and the read: look again.
	}
	return nil, fmt.Errorf("logstore: group %d: entries from %d: segments keep disappearing under the read", gs.group, lo)
}

var errSegmentGone = errors.New("segment removed")

func (gs *GroupStorage) entries(lo, hi, maxBytes uint64) ([]consensus.Entry, error) {
	var (
		ents []consensus.Entry
		runs []run
	)
	err := gs.read(func(g *groupIndex) error {
		switch {
		case lo < g.first():
			return consensus.ErrCompacted
		case hi > g.last()+1:
			return fmt.Errorf("%w: entries [%d, %d) beyond last index %d", consensus.ErrUnavailable, lo, hi, g.last())
		case lo >= hi:
			return nil
		}
		if cached, ok := g.cache.slice(lo, hi); ok {
			ents = limitBytes(cached, maxBytes)
			gs.s.stats.cacheHits.Add(1)
			return nil
		}
		// Copy the runs to read, so no lock is held while reading.
		if c := g.cache.first(); c != 0 && c < hi {
			hi = c
		}
		var size uint64
		for k := g.find(lo); k >= 0 && k < len(g.runs) && g.runs[k].first < hi; k++ {
			runs = append(runs, g.runs[k])
			if size += uint64(g.runs[k].size); size > maxBytes {
				break
			}
		}
		if len(runs) == 0 {
			return fmt.Errorf("%w: group %d: no run holds index %d", ErrCorruptLog, gs.group, lo)
		}
		return nil
	})
	if err != nil || runs == nil {
		return ents, err
	}
	var size uint64
	for _, r := range runs {
		got, err := gs.s.readRun(r)
		if errors.Is(err, errSegmentGone) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("logstore: group %d: %w", gs.group, err)
		}
		for i := range got {
			e := &got[i]
			if e.Index < lo || e.Index >= hi {
				continue
			}
			size += uint64(len(e.Data)) + entryCostBytes
			if len(ents) > 0 && size > maxBytes {
				return ents, nil
			}
			ents = append(ents, *e)
		}
	}
	return ents, nil
}

// entryCostBytes is what an entry counts beside its data against maxBytes.
const entryCostBytes = 24

func limitBytes(ents []consensus.Entry, maxBytes uint64) []consensus.Entry {
	var size uint64
	for i := range ents {
		if size += uint64(len(ents[i].Data)) + entryCostBytes; size > maxBytes && i > 0 {
			return ents[:i:i]
		}
	}
	return ents
}

// readRun reads r's record back and returns the entries of the run.
func (s *Store) readRun(r run) ([]consensus.Entry, error) {
	buf := make([]byte, r.size)
	s.segMu.RLock()
	seg := s.segs[r.seg]
	if seg == nil {
		s.segMu.RUnlock()
		return nil, errSegmentGone
	}
	n, err := seg.f.ReadAt(buf, int64(r.off))
	s.segMu.RUnlock()
	s.stats.diskReads.Add(1)
	if n < len(buf) {
		return nil, fmt.Errorf("logstore: %s offset %d: read %d of %d bytes: %w", seg, r.off, n, len(buf), err)
	}
	hd, ok := parseHeader(buf)
	if !ok || recordSize(hd.length) != int64(r.size) || (hd.typ != recEntries && hd.typ != recRelocate) {
		return nil, fmt.Errorf("%w: %s offset %d: invalid record header", ErrCorruptRecord, seg, r.off)
	}
	if err := checkPayload(hd, buf); err != nil {
		return nil, fmt.Errorf("%s offset %d: %w", seg, r.off, err)
	}
	_, ents, err := decodeEntries(hd.typ, buf[headerSize:headerSize+hd.length], nil)
	if err != nil {
		return nil, fmt.Errorf("%s offset %d: %w", seg, r.off, err)
	}
	if ents[0].Index > r.first || ents[len(ents)-1].Index < r.last() {
		return nil, fmt.Errorf("%w: %s offset %d: record holds [%d, %d], index expects [%d, %d]", ErrCorruptLog, seg, r.off, ents[0].Index, ents[len(ents)-1].Index, r.first, r.last())
	}
	return ents[r.first-ents[0].Index : r.last()-ents[0].Index+1], nil
}
