package logstore

import "fmt"

// replay applies one intact record of segment seg to the indexes, checking
// that it fits what came before: a record that contradicts the log is
// corruption, even with a good checksum.
func (s *Store) replay(seg *segment, r scanned) error {
	rs := segRefs{s}
	at := ref{seg: seg.id, size: uint32(recordSize(r.hd.length))}
	switch r.hd.typ {
	case recEntries, recRelocate:
		group, ents, err := decodeEntries(r.hd.typ, r.payload, s.scratch)
		if err != nil {
			return err
		}
		s.scratch = ents[:0]
		g := s.groupOrCreate(group)
		first, last := ents[0].Index, ents[len(ents)-1].Index
		if first <= g.snap.Index {
			return fmt.Errorf("%w: group %d: %s record from index %d, at or below the compaction point %d", ErrCorruptLog, group, r.hd.typ, first, g.snap.Index)
		}
		if r.hd.typ == recEntries && first <= g.last() {
			return fmt.Errorf("%w: group %d: entries record from index %d overlaps the last index %d without a truncation", ErrCorruptLog, group, first, g.last())
		}
		run := newRun(first, last, at, r.off)
		run.setTerms(ents)
		g.put(run, rs)
	case recTruncate:
		group, index, err := decodeIndex(r.hd.typ, r.payload)
		if err != nil {
			return err
		}
		g := s.groupOrCreate(group)
		if index <= g.snap.Index {
			return fmt.Errorf("%w: group %d: truncation from index %d, at or below the compaction point %d", ErrCorruptLog, group, index, g.snap.Index)
		}
		g.truncateFrom(index, rs)
	case recHardState:
		group, hs, err := decodeHardState(r.payload)
		if err != nil {
			return err
		}
		s.groupOrCreate(group).setHardState(hs, at, rs)
	case recCompact, recInstall:
		group, snap, err := decodeSnapshot(r.hd.typ, r.payload)
		if err != nil {
			return err
		}
		g := s.groupOrCreate(group)
		if r.hd.typ == recInstall {
			g.install(snap, at, rs)
		} else if snap.Index > g.snap.Index {
			g.compactTo(snap, at, rs)
		} else if snap.Index == g.snap.Index {
			g.setSnap(snap, at, rs) // purge copied it forward
		}
	default:
		return fmt.Errorf("%w: %s record inside a segment", ErrCorruptLog, r.hd.typ)
	}
	return nil
}

// checkGroups verifies, once every segment is replayed, that each group's
// entries run without a hole from its compaction point on.
func (s *Store) checkGroups() error {
	for id, g := range s.groups {
		next := g.snap.Index + 1
		for _, r := range g.runs {
			if r.first != next {
				return fmt.Errorf("%w: group %d: entries [%d, %d) are missing (a segment removed too early, or lost)", ErrCorruptLog, id, next, r.first)
			}
			next = r.last() + 1
		}
	}
	return nil
}
