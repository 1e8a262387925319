package logstore

import (
	"fmt"
	"log/slog"

	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// Options configure a Store. Zero fields take the defaults below.
type Options struct {
	// Dir is the directory of the segments; it is created if missing.
	Dir string
	// FS is the file system; vfs.Default, the operating system's, if nil.
	FS vfs.FS
	// SegmentBytes is the size each segment is preallocated to. A write
	// that does not fit in the active segment's room starts a new one; a
	// write larger than a segment gets a segment of its own size.
	SegmentBytes int64
	// WriteBytesMax bounds one Write's encoded size.
	WriteBytesMax int64
	// RecordBytesTarget cuts one group's appended entries into records of
	// about this many bytes, which bounds what reading one old entry back
	// from disk costs.
	RecordBytesTarget int64
	// GroupCacheBytesMax bounds the recent entries each group keeps in
	// memory; older ones are read back from disk.
	GroupCacheBytesMax int64
	// PurgeThresholdBytes is the size of the segments beyond which the
	// live records of the oldest segments are rewritten forward, so that
	// one slow group cannot pin old segments forever.
	PurgeThresholdBytes int64
	// ManualPurge turns off the background purge that runs after each new
	// segment; the owner calls Store.Purge itself.
	ManualPurge bool
	// Logger receives what recovery repaired (a torn tail) and what purge
	// could not do; slog.Default() if nil.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultSegmentBytes        = 64 << 20
	DefaultWriteBytesMax       = 64 << 20
	DefaultRecordBytesTarget   = 256 << 10
	DefaultGroupCacheBytesMax  = 1 << 20
	DefaultPurgeThresholdBytes = 1 << 30
)

// minSegmentBytes keeps a segment able to hold its header and some writes.
const minSegmentBytes = 4 << 10

func (o *Options) fillDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.WriteBytesMax == 0 {
		o.WriteBytesMax = DefaultWriteBytesMax
	}
	if o.RecordBytesTarget == 0 {
		o.RecordBytesTarget = DefaultRecordBytesTarget
	}
	if o.GroupCacheBytesMax == 0 {
		o.GroupCacheBytesMax = DefaultGroupCacheBytesMax
	}
	if o.PurgeThresholdBytes == 0 {
		o.PurgeThresholdBytes = DefaultPurgeThresholdBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports the first option that is out of range, by name.
func (o *Options) Validate() error {
	switch {
	case o.Dir == "":
		return fmt.Errorf("logstore: options: Dir is empty")
	case o.SegmentBytes < minSegmentBytes || o.SegmentBytes > payloadLimit:
		return fmt.Errorf("logstore: options: SegmentBytes %d is not in [%d, %d]", o.SegmentBytes, minSegmentBytes, payloadLimit)
	case o.WriteBytesMax <= 0 || o.WriteBytesMax > payloadLimit:
		return fmt.Errorf("logstore: options: WriteBytesMax %d is not in (0, %d]", o.WriteBytesMax, payloadLimit)
	case o.RecordBytesTarget <= 0 || o.RecordBytesTarget > o.WriteBytesMax:
		return fmt.Errorf("logstore: options: RecordBytesTarget %d is not in (0, WriteBytesMax %d]", o.RecordBytesTarget, o.WriteBytesMax)
	case o.GroupCacheBytesMax < 0:
		return fmt.Errorf("logstore: options: GroupCacheBytesMax %d is negative", o.GroupCacheBytesMax)
	case o.PurgeThresholdBytes < o.SegmentBytes:
		return fmt.Errorf("logstore: options: PurgeThresholdBytes %d is below SegmentBytes %d", o.PurgeThresholdBytes, o.SegmentBytes)
	}
	return nil
}
