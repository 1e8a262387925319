// Package logstore is the write-ahead log for the Raft entries and hard
// state of every group on a host: one append may carry many groups, one
// fsync covers them all, and a torn tail is truncated, never mistaken for
// corruption, while corruption is never mistaken for a torn tail.
//
// Why a log of its own: a Raft log kept inside the LSM is written twice,
// once in the LSM's own WAL and once as data, then compacted again and
// again. Here the entries are written once, sequentially, and the state
// machine's LSM (Pebble) holds only the state machine (as TiKV's
// raft-engine and Dragonboat's tan do).
//
// # On disk
//
// The log is a directory of segments, 0000000000000001.wal and on, each
// preallocated to Options.SegmentBytes so that a write never changes the
// file's size and never finds the disk full. (On ext4 the preallocated
// blocks are unwritten extents, and the first write to each still costs
// a journal commit in the fdatasync; zero-filling or recycling segments
// would avoid it, measured at 20-30% per small write: not done yet.) A segment is built
// under a temporary name, given its header record, synced, renamed into
// place, and the directory synced; removing one syncs the directory too.
// Records are framed as record.go describes: a checksummed header, a
// payload with its own CRC32C, and a trailer byte. Each Write is one run of
// records whose last carries an end-of-write flag, and recovery keeps a
// write only if it is whole: a crash in the middle of one loses it all,
// and it was never acknowledged.
//
// Records hold a group's entries, its hard state, a truncation (a
// follower's conflicting suffix replaced), a compaction point (a snapshot
// taken locally), an installed snapshot's metadata (the whole log
// replaced), and relocations: live entries purge copied forward.
//
// # In memory
//
// Per group: the hard state, the compaction point, and runs that locate
// each live entry (segment, record offset, size, terms), plus a cache of
// the most recent entries within Options.GroupCacheBytesMax. Older entries
// are read back from disk, one record at a time, with their checksums
// checked. GroupStats reports what each group costs: the index grows with
// the records the group keeps live (one run per record, 40 bytes),
// so compaction is what bounds it.
//
// # Reclaiming space
//
// A segment is removed once nothing points into it, oldest first. Purge
// copies forward what old segments still hold live once the log exceeds
// Options.PurgeThresholdBytes, so that one slow group does not pin them.
// Removing only from the oldest end keeps recovery simple: what it reads is
// always a suffix of the log's history, plus copies of whatever was live in
// the part removed.
//
// # Failures
//
// A write or fsync error stops the store for good (ErrFailed): the kernel
// may have dropped the pages a failed fsync was flushing, so a retry proves
// nothing (PostgreSQL's "fsyncgate"). Nothing is visible to readers, and
// Write does not return, before its fsync succeeded. A full disk when a new
// segment is needed is ErrDiskFull and leaves the store usable. Recovery
// truncates a torn last write of the newest segment, durably, and logs it;
// any other damage fails Open with an error naming the segment file and
// offset, and nothing is truncated.
//
// What recovery cannot tell apart: a crash that made a later page of the
// last write durable but not an earlier one (a hole rather than a cut)
// looks like damage followed by data, and is reported as corruption, not
// repaired. That errs on the side of never dropping synced data silently.
package logstore
