package fsm

import "errors"

// Snapshotter is a StateMachine whose state can be captured whole and
// restored, so that the log before it can be dropped and a replica that
// fell behind the log's start can be caught up.
//
// Both calls come from the apply stage between two drains, so no Update
// is under way. PrepareSnapshot must be cheap (a Pebble snapshot, a
// copy-on-write view): the writing happens in the returned source, off
// the apply path, while Updates go on.
type Snapshotter interface {
	StateMachine
	// PrepareSnapshot captures the state as of Applied.
	PrepareSnapshot() (SnapshotSource, error)
	// RecoverFromSnapshot replaces the whole state with the snapshot whose
	// files are in dir, checking each against the manifest first: a
	// damaged snapshot is refused with ErrCorruptSnapshot naming the file,
	// and the state is left as it was. Afterwards Applied is man.Index.
	// A crash at any point leaves the old state or the new one.
	RecoverFromSnapshot(dir string, man SnapshotManifest) error
}

// Syncer is a state machine that keeps its state on disk but may hold
// applied entries in memory for a while (kv's Pebble machines run without
// a WAL). Sync makes every entry applied so far durable: the host calls it
// before dropping the log below a snapshot, which a restart could
// otherwise need to replay.
type Syncer interface {
	Sync() error
}

// SnapshotSource is a captured state, written out once and closed.
type SnapshotSource interface {
	// Index is the applied index the state is as of.
	Index() uint64
	// Write writes the state's files into dir, syncs them, and returns
	// their manifest.
	Write(dir string) (SnapshotManifest, error)
	Close() error
}

// SnapshotManifest describes a group's snapshot: the index its state is as
// of and its files. (The term and membership at that index are
// consensus's and travel in its snapshot metadata.)
type SnapshotManifest struct {
	Group uint64
	Index uint64
	Files []SnapshotFile
}

// SnapshotFile is one file of a snapshot, with the size and the CRC32C
// (Castagnoli) of its bytes.
type SnapshotFile struct {
	Name   string
	Bytes  int64
	CRC32C uint32
}

// Bytes is the size of the snapshot's files together.
func (m SnapshotManifest) Bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Bytes
	}
	return n
}

// ErrCorruptSnapshot wraps every snapshot verification failure.
var ErrCorruptSnapshot = errors.New("fsm: corrupt snapshot")
