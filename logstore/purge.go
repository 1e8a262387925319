package logstore

import (
	"errors"
	"fmt"
	"slices"
)

// Purge reclaims disk: while the segments hold more than
// PurgeThresholdBytes, it copies the live records of the oldest segment to
// the head of the log (entries as relocation records, a hard state or
// compaction point as itself), so that one slow group cannot pin old
// segments forever; then it removes, oldest first, every segment nothing
// points into any more. Only the oldest segments are ever removed, so what
// recovery reads is always a suffix of the log's history plus the copies.
//
// A segment still mostly live is not copied: that would move the bytes
// without freeing any. The store then stays above the threshold until the
// groups compact their logs, and says so in the log.
func (s *Store) Purge() error {
	s.purgeMu.Lock()
	defer s.purgeMu.Unlock()
	dead, err := s.purge()
	if len(dead) > 0 {
		// Unlinking a large preallocated file takes milliseconds on ext4:
		// done under writeMu it would stall every append behind it.
		err = errors.Join(err, s.removeSegments(dead))
	}
	return err
}

// purge does Purge's work under writeMu and returns the segments it
// detached, to be removed after.
func (s *Store) purge() (dead []*segment, err error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.Err(); err != nil {
		return nil, err
	}
	for s.totalBytes() > s.opts.PurgeThresholdBytes && s.oldest < s.active.id {
		seg := s.segs[s.oldest]
		if seg.live > 0 {
			if seg.liveBytes.Load() > seg.size/2 {
				s.opts.Logger.Warn("logstore: the log exceeds its purge threshold but its oldest segment is mostly live; groups must compact",
					"segment", seg.name, "live_bytes", seg.liveBytes.Load(), "total_bytes", s.totalBytes(), "threshold", s.opts.PurgeThresholdBytes)
				break
			}
			if err := s.rewrite(seg); err != nil {
				return dead, err
			}
			if seg.live > 0 {
				// Every reference was copied; one left means the counts are
				// wrong, and looping would rewrite forever.
				return dead, fmt.Errorf("logstore: purge: %s still has %d live records after its rewrite", seg, seg.live)
			}
		}
		dead = s.detachDead(dead)
	}
	return s.detachDead(dead), nil
}

func (s *Store) totalBytes() int64 {
	var n int64
	for _, seg := range s.segs {
		n += seg.size
	}
	return n
}

// detachDead takes the oldest segments out of the store while nothing
// points into them, and appends them to dead. Called under writeMu.
func (s *Store) detachDead(dead []*segment) []*segment {
	for s.oldest < s.active.id {
		seg := s.segs[s.oldest]
		if seg.live > 0 {
			break
		}
		s.segMu.Lock()
		delete(s.segs, seg.id)
		s.segMu.Unlock()
		s.oldest++
		dead = append(dead, seg)
	}
	return dead
}

// removeSegments removes detached segments' files, oldest first, then
// syncs the directory once. A segment left behind by a crash in between
// replays as the start of the history it is: only the oldest segments are
// ever removed.
func (s *Store) removeSegments(dead []*segment) error {
	for _, seg := range dead {
		seg.f.Close()
	}
	for _, seg := range dead {
		if err := s.Err(); err != nil {
			return err // a failed store touches its disk no more
		}
		if err := s.opts.FS.Remove(seg.name); err != nil {
			// Nothing is lost, but a later open would count segments that
			// this store no longer knows: stop.
			return s.fail(fmt.Sprintf("remove %s", seg), err)
		}
		s.stats.segmentsRemoved.Add(1)
	}
	if err := s.Err(); err != nil {
		return err
	}
	if err := s.opts.FS.SyncDir(s.opts.Dir); err != nil {
		return s.fail("sync directory after removing segments", err)
	}
	return nil
}

// rewrite copies every live record of seg to the head of the log, in
// writes of at most WriteBytesMax, and repoints the indexes at the copies.
func (s *Store) rewrite(seg *segment) error {
	s.buf, s.effects = s.buf[:0], s.effects[:0]
	var relocated []run // parallel to the effects of relocation records
	flush := func() error {
		if len(s.effects) == 0 {
			return nil
		}
		markEndOfWrite(s.buf, int(s.effects[len(s.effects)-1].off))
		if err := s.writeSynced(s.buf); err != nil {
			return err
		}
		s.applyRewrite(s.active.id, s.active.end-int64(len(s.buf)), relocated)
		s.stats.rewrittenBytes.Add(uint64(len(s.buf)))
		s.buf, s.effects, relocated = s.buf[:0], s.effects[:0], relocated[:0]
		return nil
	}
	s.groupsMu.RLock()
	ids := make([]uint64, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	s.groupsMu.RUnlock()
	slices.Sort(ids)
	for _, id := range ids {
		g := s.group(id) // only the writer changes g, and that is us
		if g.snapRef.seg == seg.id {
			snap := g.snap
			s.addRecord(effect{kind: recCompact, group: id, snap: snap}, func(b []byte) []byte { return encodeSnapshot(b, id, snap) })
		}
		if g.hsRef.seg == seg.id {
			hs := g.hs
			s.addRecord(effect{kind: recHardState, group: id, hs: hs}, func(b []byte) []byte { return encodeHardState(b, id, hs) })
		}
		for _, r := range g.runs {
			if r.seg != seg.id {
				continue
			}
			ents, err := s.readRun(r)
			if err != nil {
				return s.fail(fmt.Sprintf("purge %s", seg), err)
			}
			s.addRecord(effect{kind: recRelocate, group: id}, func(b []byte) []byte { return encodeEntries(b, id, ents) })
			relocated = append(relocated, r)
			if int64(len(s.buf)) >= s.opts.WriteBytesMax/2 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// applyRewrite repoints the indexes at the copies of a synced rewrite.
func (s *Store) applyRewrite(segID uint32, base int64, relocated []run) {
	rs := segRefs{s}
	k := 0
	for i := range s.effects {
		e := &s.effects[i]
		at := ref{seg: segID, size: uint32(e.size)}
		g := s.group(e.group)
		g.mu.Lock()
		switch e.kind {
		case recRelocate:
			r := relocated[k]
			k++
			r.ref, r.off = at, uint32(base+e.off)
			g.put(r, rs)
		case recHardState:
			g.setHardState(e.hs, at, rs)
		case recCompact:
			g.setSnap(e.snap, at, rs)
		}
		g.mu.Unlock()
	}
}

// purgeLoop runs Purge after each new segment until Close.
func (s *Store) purgeLoop() {
	defer close(s.purgeDone)
	for range s.purgeWake {
		if err := s.Purge(); err != nil && !errors.Is(err, ErrClosed) {
			s.opts.Logger.Error("logstore: purge", "err", err)
		}
	}
}
