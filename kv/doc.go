// Package kv is the replicated key/value service's state: the Pebble
// key/value state machine that every group of a host keeps in one shared
// Pebble instance, each group in its own key range with its applied index
// beside its data, and (to come) the regions that split that key space.
//
// The Raft log, not Pebble's WAL, is what makes an applied write durable:
// Pebble runs without a WAL (Options.DisableWAL), so a host's writes to it
// cost no fsync at all. A crash loses what Pebble had not flushed yet, data
// and applied index together, since both are written by the same batch;
// the host then replays the Raft log from the older applied index it finds,
// and the state catches up to exactly where it was. The log must therefore
// keep every entry above the applied index Pebble has made durable: Store.Flush
// says when that is (log compaction waits for it).
//
// Pebble v2 (github.com/cockroachdb/pebble/v2), not v1: a snapshot replaces
// a group's span with IngestAndExcise, one atomic edit of the LSM's
// manifest that also cuts the span's old data out of the tables holding
// it. With v1 the old data could only be hidden, by a range tombstone
// ingested with the new files, which every read and compaction of the
// span then pays for until it is compacted away.
package kv
