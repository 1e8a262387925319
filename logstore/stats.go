package logstore

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// counters are the store's statistics, updated as it works.
type counters struct {
	writes, entries, syncs, bytes, syncNanos atomic.Uint64
	rotations, segmentsRemoved               atomic.Uint64
	rewrittenBytes, tornBytes                atomic.Uint64
	cacheHits, diskReads                     atomic.Uint64
	// One atomic add each per fdatasync, beside the sync itself: the
	// distributions that the totals above flatten into averages.
	syncMicros   [HistogramBuckets]atomic.Uint64
	writeEntries [HistogramBuckets]atomic.Uint64
}

// HistogramBuckets is the number of log2 buckets of the histograms of
// Stats; the last holds everything larger.
const HistogramBuckets = 24

// log2Bucket is the bucket of v: bucket i holds [2^i, 2^(i+1)), bucket 0
// also 0, the last everything from 2^(HistogramBuckets-1) up.
func log2Bucket(v uint64) int {
	if v == 0 {
		return 0
	}
	return min(bits.Len64(v)-1, HistogramBuckets-1)
}

// recordSync notes one fdatasync that took nanos.
func (c *counters) recordSync(nanos uint64) {
	c.syncNanos.Add(nanos)
	c.syncs.Add(1)
	c.syncMicros[log2Bucket(nanos/uint64(time.Microsecond))].Add(1)
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
	// SyncMicros[i] counts the fdatasyncs of Syncs that took
	// [2^i, 2^(i+1)) µs (bucket 0 also those under 1 µs); their total is
	// SyncNanos.
	SyncMicros [HistogramBuckets]uint64
	// WriteEntries[i] counts the Writes that appended [2^i, 2^(i+1))
	// entries (bucket 0 also those of none: hard states, compactions);
	// their total is Entries. Each Write is one fdatasync, so this is the
	// distribution of entries per sync, purge's rewrites aside.
	WriteEntries [HistogramBuckets]uint64

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
	for i := range st.SyncMicros {
		st.SyncMicros[i] = s.stats.syncMicros[i].Load()
		st.WriteEntries[i] = s.stats.writeEntries[i].Load()
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
