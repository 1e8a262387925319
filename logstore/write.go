package logstore

import (
	"fmt"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
)

// plan is what a Write expects a group to look like after the operations
// it has encoded so far, so that several operations on one group in one
// batch are checked against one another.
type plan struct {
	snapIndex uint64
	last      uint64
	lastTerm  uint64
	// touched is the lowest index an earlier operation of this batch
	// wrote or removed; 0 if none.
	touched uint64
	g       *groupIndex // nil for a group the store does not know yet
}

// effect is one record of the write being prepared, and what it does to
// its group's index once synced.
type effect struct {
	kind  recordType
	group uint64
	off   int64 // the record's offset within the write
	size  int64
	ents  []consensus.Entry      // recEntries
	index uint64                 // recTruncate
	hs    consensus.HardState    // recHardState
	snap  consensus.SnapshotMeta // recCompact, recInstall
}

// Write makes the batch durable: every operation of every group is encoded
// into one buffer, written with one call and synced with one fdatasync,
// and only then made visible to readers. It returns after the sync. An
// invalid operation fails the whole batch with nothing written; a write or
// sync error stops the store (see ErrFailed).
func (s *Store) Write(b *Batch) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.Err(); err != nil {
		return err
	}
	if err := s.encode(b); err != nil {
		return err
	}
	if len(s.effects) == 0 {
		return nil
	}
	if err := s.writeSynced(s.buf); err != nil {
		return err
	}
	s.apply(s.active.id, s.active.end-int64(len(s.buf)))
	s.stats.writes.Add(1)
	s.stats.entries.Add(uint64(b.entries))
	s.stats.writeEntries[log2Bucket(uint64(b.entries))].Add(1)
	return nil
}

// encode fills s.buf and s.effects from b.
func (s *Store) encode(b *Batch) error {
	s.buf, s.effects = s.buf[:0], s.effects[:0]
	clear(s.plans)
	s.planBuf = s.planBuf[:0]
	for i := range b.ops {
		if err := s.encodeOp(&b.ops[i]); err != nil {
			return fmt.Errorf("%w: group %d: %v", ErrInvalidWrite, b.ops[i].group, err)
		}
	}
	if len(s.effects) == 0 {
		return nil
	}
	if int64(len(s.buf)) > s.opts.WriteBytesMax {
		return fmt.Errorf("%w: %d bytes encoded, WriteBytesMax is %d", ErrWriteTooLarge, len(s.buf), s.opts.WriteBytesMax)
	}
	markEndOfWrite(s.buf, int(s.effects[len(s.effects)-1].off))
	return nil
}

func (s *Store) planFor(id uint64) (*plan, *groupIndex) {
	k, ok := s.plans[id]
	if !ok {
		g := s.group(id)
		p := plan{g: g}
		if g != nil {
			// The writer is the only one changing g, so it reads g unlocked.
			p.snapIndex, p.last = g.snap.Index, g.last()
			p.lastTerm, _ = g.term(p.last)
		}
		k = len(s.planBuf)
		s.planBuf = append(s.planBuf, p)
		s.plans[id] = k
	}
	return &s.planBuf[k], s.planBuf[k].g
}

func (s *Store) addRecord(e effect, payload func([]byte) []byte) {
	buf, at := beginRecord(s.buf, e.kind)
	buf = payload(buf)
	s.buf = finishRecord(buf, at)
	e.off, e.size = int64(at), int64(len(s.buf)-at)
	s.effects = append(s.effects, e)
}

func (s *Store) encodeOp(o *op) error {
	p, g := s.planFor(o.group)
	switch o.kind {
	case opAppend:
		return s.encodeAppend(o.group, o.ents, p, g)
	case opHardState:
		s.addRecord(effect{kind: recHardState, group: o.group, hs: o.hs}, func(b []byte) []byte {
			return encodeHardState(b, o.group, o.hs)
		})
	case opInstall:
		if o.snap.Index < p.snapIndex {
			return fmt.Errorf("snapshot at %d is older than the compaction point %d", o.snap.Index, p.snapIndex)
		}
		snap := o.snap
		snap.Membership = cloneMembership(snap.Membership)
		s.addRecord(effect{kind: recInstall, group: o.group, snap: snap}, func(b []byte) []byte {
			return encodeSnapshot(b, o.group, snap)
		})
		p.snapIndex, p.last, p.lastTerm = snap.Index, snap.Index, snap.Term
		p.touched = 1
	case opCompact:
		i := o.snap.Index
		if i <= p.snapIndex {
			return nil
		}
		if p.touched != 0 && i >= p.touched {
			return fmt.Errorf("compaction to %d reaches entries this batch writes from %d on", i, p.touched)
		}
		if g == nil || i > g.last() {
			return fmt.Errorf("compaction to %d is beyond the last persisted index %d", i, p.last)
		}
		term, err := g.term(i)
		if err != nil {
			return err
		}
		snap := consensus.SnapshotMeta{Index: i, Term: term, Membership: cloneMembership(o.snap.Membership)}
		s.addRecord(effect{kind: recCompact, group: o.group, snap: snap}, func(b []byte) []byte {
			return encodeSnapshot(b, o.group, snap)
		})
		p.snapIndex = i
	}
	return nil
}

func (s *Store) encodeAppend(group uint64, ents []consensus.Entry, p *plan, g *groupIndex) error {
	for i := 1; i < len(ents); i++ {
		if ents[i].Index != ents[i-1].Index+1 {
			return fmt.Errorf("entries not contiguous: %d follows %d", ents[i].Index, ents[i-1].Index)
		}
		if ents[i].Term < ents[i-1].Term {
			return fmt.Errorf("term goes down from %d to %d at index %d", ents[i-1].Term, ents[i].Term, ents[i].Index)
		}
	}
	if ents[0].Index == 0 {
		return fmt.Errorf("entry index 0")
	}
	if skip := p.snapIndex + 1 - min(ents[0].Index, p.snapIndex+1); skip > 0 {
		// Entries up to the compaction point are already covered by it.
		if skip >= uint64(len(ents)) {
			return nil
		}
		ents = ents[skip:]
	}
	first := ents[0].Index
	switch {
	case first > p.last+1:
		return fmt.Errorf("append at %d leaves a gap after the last index %d", first, p.last)
	case first <= p.last:
		if prev, ok := s.plannedTerm(group, first-1, g); ok && ents[0].Term < prev {
			return fmt.Errorf("term goes down from %d to %d at index %d", prev, ents[0].Term, first)
		}
		s.addRecord(effect{kind: recTruncate, group: group, index: first}, func(b []byte) []byte {
			return encodeIndex(b, group, first)
		})
	case ents[0].Term < p.lastTerm:
		return fmt.Errorf("term goes down from %d to %d at index %d", p.lastTerm, ents[0].Term, first)
	}
	if p.touched == 0 || first < p.touched {
		p.touched = first
	}
	p.last, p.lastTerm = ents[len(ents)-1].Index, ents[len(ents)-1].Term
	// Cut into records of about RecordBytesTarget, at least one entry each.
	for len(ents) > 0 {
		n, size := 0, int64(0)
		for n < len(ents) && (n == 0 || size+entrySize(&ents[n]) <= s.opts.RecordBytesTarget) {
			size += entrySize(&ents[n])
			n++
		}
		chunk := ents[:n:n]
		s.addRecord(effect{kind: recEntries, group: group, ents: chunk}, func(b []byte) []byte {
			return encodeEntries(b, group, chunk)
		})
		ents = ents[n:]
	}
	return nil
}

// plannedTerm returns the term at i as the batch so far leaves it: from
// the latest of its records that covers i, else from the store.
func (s *Store) plannedTerm(group, i uint64, g *groupIndex) (uint64, bool) {
	for k := len(s.effects) - 1; k >= 0; k-- {
		e := &s.effects[k]
		if e.group != group {
			continue
		}
		switch {
		case e.kind == recEntries && e.ents[0].Index <= i && i <= e.ents[len(e.ents)-1].Index:
			return e.ents[i-e.ents[0].Index].Term, true
		case e.kind == recInstall && e.snap.Index == i:
			return e.snap.Term, true
		}
	}
	if g == nil {
		return 0, false
	}
	t, err := g.term(i)
	return t, err == nil
}

// writeSynced writes buf at the active segment's end, starting a new
// segment first if it does not fit, and syncs.
func (s *Store) writeSynced(buf []byte) error {
	seg := s.active
	if seg.end+int64(len(buf)) > seg.size {
		if err := s.rotate(int64(len(buf))); err != nil {
			return err
		}
		seg = s.active
	}
	if _, err := seg.f.WriteAt(buf, seg.end); err != nil {
		return s.fail(fmt.Sprintf("write %s offset %d", seg, seg.end), err)
	}
	start := time.Now()
	if err := seg.f.Sync(); err != nil {
		return s.fail(fmt.Sprintf("sync %s", seg), err)
	}
	s.stats.recordSync(since(start))
	s.stats.bytes.Add(uint64(len(buf)))
	seg.end += int64(len(buf))
	return nil
}

// rotate makes a new active segment with room for need bytes.
func (s *Store) rotate(need int64) error {
	id := s.active.id + 1
	if id == 0 {
		return s.fail("rotate", fmt.Errorf("segment ids exhausted"))
	}
	size := max(s.opts.SegmentBytes, segmentHeaderSize(id)+need)
	seg, renamed, err := createSegment(s.opts.FS, s.opts.Dir, id, size)
	if err != nil {
		if renamed {
			// The directory may now hold the segment or not; only a reopen
			// can tell.
			return s.fail(fmt.Sprintf("create segment %d", id), err)
		}
		return fmt.Errorf("logstore: create segment %d: %w", id, err)
	}
	s.segMu.Lock()
	s.segs[id] = seg
	s.segMu.Unlock()
	s.active = seg
	s.stats.rotations.Add(1)
	select {
	case s.purgeWake <- struct{}{}:
	default:
	}
	return nil
}

// apply makes the synced write visible: each effect, in order, on its
// group's index. base is the write's offset in the active segment.
func (s *Store) apply(segID uint32, base int64) {
	rs := segRefs{s}
	var g *groupIndex
	for i := range s.effects {
		e := &s.effects[i]
		at := ref{seg: segID, size: uint32(e.size)}
		if i == 0 || e.group != s.effects[i-1].group {
			if g != nil {
				g.mu.Unlock()
			}
			g = s.groupOrCreate(e.group)
			g.mu.Lock()
		}
		switch e.kind {
		case recEntries:
			r := newRun(e.ents[0].Index, e.ents[len(e.ents)-1].Index, at, base+e.off)
			r.setTerms(e.ents)
			g.put(r, rs)
			g.cache.append(e.ents, s.opts.GroupCacheBytesMax)
		case recTruncate:
			g.truncateFrom(e.index, rs)
		case recHardState:
			g.setHardState(e.hs, at, rs)
		case recCompact:
			g.compactTo(e.snap, at, rs)
		case recInstall:
			g.install(e.snap, at, rs)
		}
		e.ents = nil
	}
	if g != nil {
		g.mu.Unlock()
	}
}

func cloneMembership(m consensus.Membership) consensus.Membership {
	return consensus.Membership{Voters: cloneIDs(m.Voters), Learners: cloneIDs(m.Learners)}
}

func cloneIDs(ids []uint64) []uint64 {
	if len(ids) == 0 {
		return nil
	}
	return append([]uint64(nil), ids...)
}
