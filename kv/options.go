package kv

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options tune the host's Pebble instance. Zero fields take the defaults
// of DefaultOptions, except Dir, which has none. Units are in the names.
type Options struct {
	// Dir holds Pebble's files.
	Dir string
	// CacheBytes is the block cache.
	CacheBytes int64
	// MemTableBytes is one memtable; MemTableStopWritesThreshold of them
	// may wait for a flush before writes stall.
	MemTableBytes               uint64
	MemTableStopWritesThreshold int
	// L0CompactionThreshold is the L0 read amplification that starts a
	// compaction, L0StopWritesThreshold the one that stalls writes.
	L0CompactionThreshold int
	L0StopWritesThreshold int
	// LBaseMaxBytes is the size of the level L0 compacts into.
	LBaseMaxBytes int64
	// MaxOpenFiles bounds the open table files.
	MaxOpenFiles int
	// CompactionConcurrencyMax bounds concurrent compactions.
	CompactionConcurrencyMax int
	// BytesPerSync makes Pebble sync the table files it writes in steps of
	// this many bytes, so a flush's final sync is short.
	BytesPerSync int
	// SnapshotFileBytes cuts a group's snapshot into SST files of about
	// this size.
	SnapshotFileBytes int64

	// FS is the file system, the operating system's if nil (tests pass
	// an in-memory one).
	FS     vfs.FS
	Logger *slog.Logger
}

// DefaultOptions returns a 64 MiB cache, 64 MiB memtables (4 before
// writes stall), L0 compactions from 4 files and stalls at 12, a 64 MiB
// base level, 1,000 open files, 2 concurrent compactions, 1 MiB syncs
// and snapshot files of 64 MiB.
func DefaultOptions() Options {
	return Options{
		CacheBytes:                  64 << 20,
		MemTableBytes:               64 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       12,
		LBaseMaxBytes:               64 << 20,
		MaxOpenFiles:                1000,
		CompactionConcurrencyMax:    2,
		BytesPerSync:                1 << 20,
		SnapshotFileBytes:           64 << 20,
	}
}

// ErrInvalidOptions matches every error of Options.Validate.
var ErrInvalidOptions = errors.New("kv: invalid options")

func (o *Options) fillDefaults() {
	d := DefaultOptions()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = d.CacheBytes
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = d.MemTableBytes
	}
	if o.SnapshotFileBytes == 0 {
		o.SnapshotFileBytes = d.SnapshotFileBytes
	}
	if o.LBaseMaxBytes == 0 {
		o.LBaseMaxBytes = d.LBaseMaxBytes
	}
	set(&o.MemTableStopWritesThreshold, d.MemTableStopWritesThreshold)
	set(&o.L0CompactionThreshold, d.L0CompactionThreshold)
	set(&o.L0StopWritesThreshold, d.L0StopWritesThreshold)
	set(&o.MaxOpenFiles, d.MaxOpenFiles)
	set(&o.CompactionConcurrencyMax, d.CompactionConcurrencyMax)
	set(&o.BytesPerSync, d.BytesPerSync)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports the first option that cannot work, named.
func (o Options) Validate() error {
	o.fillDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Dir == "":
		return bad("Dir is empty")
	case o.CacheBytes < 0:
		return bad("CacheBytes %d is negative", o.CacheBytes)
	case o.MemTableBytes < 1<<20 || o.MemTableBytes > 4<<30:
		return bad("MemTableBytes %d is not in [1 MiB, 4 GiB]", o.MemTableBytes)
	case o.MemTableStopWritesThreshold < 2:
		return bad("MemTableStopWritesThreshold %d is below 2", o.MemTableStopWritesThreshold)
	case o.L0CompactionThreshold < 1:
		return bad("L0CompactionThreshold %d must be positive", o.L0CompactionThreshold)
	case o.L0StopWritesThreshold < o.L0CompactionThreshold:
		return bad("L0StopWritesThreshold %d is below L0CompactionThreshold %d", o.L0StopWritesThreshold, o.L0CompactionThreshold)
	case o.LBaseMaxBytes < 1<<20:
		return bad("LBaseMaxBytes %d is below 1 MiB", o.LBaseMaxBytes)
	case o.MaxOpenFiles < 16:
		return bad("MaxOpenFiles %d is below 16", o.MaxOpenFiles)
	case o.CompactionConcurrencyMax < 1:
		return bad("CompactionConcurrencyMax %d must be positive", o.CompactionConcurrencyMax)
	case o.BytesPerSync < 0:
		return bad("BytesPerSync %d is negative", o.BytesPerSync)
	case o.SnapshotFileBytes < 4<<10:
		return bad("SnapshotFileBytes %d is below 4 KiB", o.SnapshotFileBytes)
	}
	return nil
}

// pebbleOptions turns o into Pebble's options, with the block cache c.
func (o Options) pebbleOptions(c *pebble.Cache) *pebble.Options {
	po := &pebble.Options{
		Cache:                       c,
		MemTableSize:                o.MemTableBytes,
		MemTableStopWritesThreshold: o.MemTableStopWritesThreshold,
		L0CompactionThreshold:       o.L0CompactionThreshold,
		L0StopWritesThreshold:       o.L0StopWritesThreshold,
		LBaseMaxBytes:               o.LBaseMaxBytes,
		MaxOpenFiles:                o.MaxOpenFiles,
		BytesPerSync:                o.BytesPerSync,
		FS:                          o.FS,
		Logger:                      pebbleLogger{o.Logger},
		// The Raft log is the write-ahead log (see the package doc).
		DisableWAL: true,
		// Excise and ingest-and-excise (snapshots replace a group's span
		// in one step) need virtual sstables.
		FormatMajorVersion: pebble.FormatNewest,
	}
	// Bloom filters (10 bits a key, about 1% false positives) let a GET,
	// EXISTS or SETNX of an absent key skip a table's data blocks; snapshot
	// tables get them too, through MakeWriterOptions.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	upper := o.CompactionConcurrencyMax
	po.CompactionConcurrencyRange = func() (int, int) { return 1, upper }
	return po
}

// pebbleLogger sends Pebble's log lines to slog. Fatalf is what Pebble
// calls on an invariant it finds broken (a corrupt table, say): the
// message is logged as an error and the call panics, as Pebble's own
// logger exits, since Pebble does not expect to go on.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Info("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(msg)
}
