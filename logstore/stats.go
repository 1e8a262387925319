package logstore

import "sync/atomic"

// counters are the store's statistics, updated as it works.
type counters struct {
	writes, entries, syncs, bytes, syncNanos atomic.Uint64
	rotations, segmentsRemoved               atomic.Uint64
	rewrittenBytes, tornBytes                atomic.Uint64
	cacheHits, diskReads                     atomic.Uint64
}

// Stats are the store's counters since Open, for the metrics layer.
type Stats struct {
	Writes    uint64 // Write calls that wrote something
	Entries   uint64 // entries appended by those writes
	Syncs     uint64 // fdatasyncs of writes, purge's included (not those that create segments)
	Bytes     uint64 // bytes written to the log, purge's included
	SyncNanos uint64 // time spent in those fdatasyncs
	// EntriesPerSync is Entries / Syncs: how much group commit gathers.
	EntriesPerSync float64

	Segments        int    // segments on disk now
	SegmentBytes    int64  // their preallocated size
	LiveBytes       int64  // bytes of records still referenced
	Rotations       uint64 // segments started
	SegmentsRemoved uint64
	RewrittenBytes  uint64 // bytes purge copied forward
	TornBytes       uint64 // bytes of torn tail truncated at open

	CacheHits uint64 // Entries calls served from memory
	DiskReads uint64 // records read back from disk

	Groups     int
	IndexBytes int64 // memory of every group's index
	CacheBytes int64 // memory of every group's cached entries
}

// GroupStats describe one group's log and what it costs in memory.
type GroupStats struct {
	First, Last uint64 // first and last index kept; Last = First-1 when empty
	Runs        int    // records the index points into
	IndexBytes  int64  // memory of the index
	CacheBytes  int64  // memory of the cached entries, about
}

// Stats returns the counters and a census of segments and groups.
func (s *Store) Stats() Stats {
	st := Stats{
		Writes:          s.stats.writes.Load(),
		Entries:         s.stats.entries.Load(),
		Syncs:           s.stats.syncs.Load(),
		Bytes:           s.stats.bytes.Load(),
		SyncNanos:       s.stats.syncNanos.Load(),
		Rotations:       s.stats.rotations.Load(),
		SegmentsRemoved: s.stats.segmentsRemoved.Load(),
		RewrittenBytes:  s.stats.rewrittenBytes.Load(),
		TornBytes:       s.stats.tornBytes.Load(),
		CacheHits:       s.stats.cacheHits.Load(),
		DiskReads:       s.stats.diskReads.Load(),
	}
	if st.Syncs > 0 {
		st.EntriesPerSync = float64(st.Entries) / float64(st.Syncs)
	}
	// Not under writeMu, which a write holds through its fsync: the
	// figures must stay readable while the disk is slow.
	s.segMu.RLock()
	for _, seg := range s.segs {
		st.Segments++
		st.SegmentBytes += seg.size
		st.LiveBytes += seg.liveBytes.Load()
	}
	s.segMu.RUnlock()
	s.groupsMu.RLock()
	defer s.groupsMu.RUnlock()
	st.Groups = len(s.groups)
	for _, g := range s.groups {
		g.mu.RLock()
		ib, cb := g.memoryBytes()
		g.mu.RUnlock()
		st.IndexBytes += ib
		st.CacheBytes += cb
	}
	return st
}

// GroupStats returns one group's figures; zero for a group the store does
// not know.
func (s *Store) GroupStats(group uint64) GroupStats {
	g := s.group(group)
	if g == nil {
		return GroupStats{First: 1}
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	ib, cb := g.memoryBytes()
	return GroupStats{First: g.first(), Last: g.last(), Runs: len(g.runs), IndexBytes: ib, CacheBytes: cb}
}
