package logstore

import "github.com/raftpipe/raftpipe/consensus"

// Batch collects the writes of many groups for one Store.Write: one write
// and one fdatasync cover them all (group commit). A group's operations
// apply in the order they were added, which for a consensus Ready is
// InstallSnapshot, Append, SetHardState. A Batch is reused after Reset; it
// keeps references to the entries it is given until then, and the store
// keeps them for its cache after the write, so the caller must not modify
// them (a consensus Ready's entries are never modified).
type Batch struct {
	ops     []op
	entries int // entries in all Append operations
}

type opKind uint8

const (
	opAppend opKind = iota + 1
	opHardState
	opInstall
	opCompact
)

// op is one operation of one group; which fields it uses depends on kind.
type op struct {
	kind  opKind
	group uint64
	ents  []consensus.Entry      // opAppend
	hs    consensus.HardState    // opHardState
	snap  consensus.SnapshotMeta // opInstall; opCompact uses Index and Membership
}

// Append writes ents, which must be contiguous and start at most one past
// the group's last index. Entries that conflict with the group's log
// replace its suffix from ents[0].Index on (a truncation record is written
// first); entries at or below the group's compaction point are skipped.
func (b *Batch) Append(group uint64, ents []consensus.Entry) {
	if len(ents) == 0 {
		return
	}
	b.ops = append(b.ops, op{kind: opAppend, group: group, ents: ents})
	b.entries += len(ents)
}

// SetHardState writes the group's hard state.
func (b *Batch) SetHardState(group uint64, hs consensus.HardState) {
	b.ops = append(b.ops, op{kind: opHardState, group: group, hs: hs})
}

// InstallSnapshot records a snapshot received from the leader: it replaces
// the group's whole log, whose first index becomes meta.Index+1.
func (b *Batch) InstallSnapshot(group uint64, meta consensus.SnapshotMeta) {
	b.ops = append(b.ops, op{kind: opInstall, group: group, snap: meta})
}

// Compact records a snapshot taken locally at index, with membership m (the
// membership in force at index), and drops the group's entries up to
// index, which must be a persisted entry. Compacting below the first index
// does nothing.
func (b *Batch) Compact(group, index uint64, m consensus.Membership) {
	b.ops = append(b.ops, op{kind: opCompact, group: group, snap: consensus.SnapshotMeta{Index: index, Membership: m}})
}

// Reset empties the batch for reuse, dropping its references to entries.
func (b *Batch) Reset() {
	clear(b.ops)
	b.ops = b.ops[:0]
	b.entries = 0
}

// Empty reports whether the batch holds no operation.
func (b *Batch) Empty() bool { return len(b.ops) == 0 }

// Entries returns the number of entries the batch appends.
func (b *Batch) Entries() int { return b.entries }
