package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/cockroachdb/pebble/v2"
	"github.com/raftpipe/raftpipe/consensus"
)

// pebbleStore is the design most Raft libraries built on an LSM use
// (Dragonboat's default log store and CockroachDB's Raft log on Pebble, TiKV's
// on RocksDB before raft-engine): one key per entry, one per group's hard
// state, and one batch committed with a synced WAL per group commit. Keys
// sort by group, then index, so a group's log is one range.
//
//	entry:      'e' | group (8 bytes big-endian) | index (8 bytes big-endian)
//	            -> term (uvarint) | type (1 byte) | data
//	hard state: 'h' | group (8 bytes big-endian)
//	            -> term, vote, commit (uvarints)
type pebbleStore struct {
	db      *pebble.DB
	entries uint64 // entries written
	writes  uint64 // batches committed, each with its own WAL sync
}

const (
	entryKeyBytes     = 1 + 8 + 8
	hardStateKeyBytes = 1 + 8
)

// pebbleOptions are Pebble's defaults but for what Pebble's own benchmark
// tool (cmd/pebble, newPebbleDB) sets to keep a sustained write load from
// stalling, and the format:
//   - a 64 MiB memtable instead of 4 MiB, a size for small test databases.
//     Pebble then flushes an sstable as often as logstore rotates its 64 MiB
//     segments, so neither pays for more background work than the other;
//   - writes stop only when 4 memtables (not 2) wait for a flush, or 1000
//     files (not 12) sit in L0, so a short run on two cores is not charged
//     for a compaction debt it would pay off later;
//   - the newest on-disk format, as a new deployment would choose.
//
// The rest stays as Pebble ships it: the WAL on, in the same directory and
// on the same disk as the others' files, synced with fdatasync on
// pebble.Sync; Snappy compression (the payload is random, so it finds
// nothing; a Raft library would leave it on); no experimental features
// (value separation, columnar blocks). The logger is quieted.
func pebbleOptions() *pebble.Options {
	return &pebble.Options{
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		L0StopWritesThreshold:       1000,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      quietLogger{},
	}
}

func openPebble(dir string, _ int64) (store, error) {
	db, err := pebble.Open(dir, pebbleOptions())
	if err != nil {
		return nil, err
	}
	return &pebbleStore{db: db}, nil
}

func (p *pebbleStore) write(ws []groupWrite) error {
	b := p.db.NewBatch() // from Pebble's pool: its buffer is reused
	defer b.Close()
	n := 0
	for _, w := range ws {
		for _, e := range w.ents {
			op := b.SetDeferred(entryKeyBytes, uvarintBytes(e.Term)+1+len(e.Data))
			putKey(op.Key, 'e', w.group, e.Index)
			k := binary.PutUvarint(op.Value, e.Term)
			op.Value[k] = byte(e.Type)
			copy(op.Value[k+1:], e.Data)
			if err := op.Finish(); err != nil {
				return err
			}
		}
		n += len(w.ents)
		hs := w.hs
		op := b.SetDeferred(hardStateKeyBytes, uvarintBytes(hs.Term)+uvarintBytes(hs.Vote)+uvarintBytes(hs.Commit))
		putKey(op.Key, 'h', w.group, 0)
		v := binary.AppendUvarint(op.Value[:0], hs.Term)
		v = binary.AppendUvarint(v, hs.Vote)
		binary.AppendUvarint(v, hs.Commit)
		if err := op.Finish(); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	p.entries += uint64(n)
	p.writes++
	return nil
}

func (p *pebbleStore) counters() (uint64, uint64, uint64) {
	return p.entries, p.writes, p.db.Metrics().WAL.BytesWritten
}

func (p *pebbleStore) close() error { return p.db.Close() }

var errCorrupt = errors.New("bench: corrupt value")

func (p *pebbleStore) entry(group, index uint64) (consensus.Entry, error) {
	var key [entryKeyBytes]byte
	putKey(key[:], 'e', group, index)
	v, closer, err := p.db.Get(key[:])
	if err != nil {
		return consensus.Entry{}, fmt.Errorf("group %d index %d: %w", group, index, err)
	}
	defer closer.Close()
	term, k := binary.Uvarint(v)
	if k <= 0 || len(v) < k+1 {
		return consensus.Entry{}, fmt.Errorf("group %d index %d: %w", group, index, errCorrupt)
	}
	return consensus.Entry{Term: term, Index: index, Type: consensus.EntryType(v[k]), Data: bytes.Clone(v[k+1:])}, nil
}

func (p *pebbleStore) hardState(group uint64) (consensus.HardState, error) {
	var key [hardStateKeyBytes]byte
	putKey(key[:], 'h', group, 0)
	v, closer, err := p.db.Get(key[:])
	if err != nil {
		return consensus.HardState{}, fmt.Errorf("group %d hard state: %w", group, err)
	}
	defer closer.Close()
	var hs consensus.HardState
	for _, f := range []*uint64{&hs.Term, &hs.Vote, &hs.Commit} {
		x, k := binary.Uvarint(v)
		if k <= 0 {
			return consensus.HardState{}, fmt.Errorf("group %d hard state: %w", group, errCorrupt)
		}
		*f, v = x, v[k:]
	}
	return hs, nil
}

// putKey writes prefix, group and, if key has room, index into key.
func putKey(key []byte, prefix byte, group, index uint64) {
	key[0] = prefix
	binary.BigEndian.PutUint64(key[1:9], group)
	if len(key) >= entryKeyBytes {
		binary.BigEndian.PutUint64(key[9:17], index)
	}
}

// uvarintBytes is the length of x encoded as a uvarint.
func uvarintBytes(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// quietLogger drops Pebble's informational messages and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}
