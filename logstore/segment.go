package logstore

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// segment is one preallocated file of the log. Its id orders it; records
// are written from its header up to end, and everything after end reads as
// zeros.
type segment struct {
	id   uint32
	name string // path
	f    vfs.File
	size int64 // preallocated size
	end  int64 // where the next write goes; written by the writer only
	// live counts the records that something in an index points at;
	// liveBytes sums their sizes. The writer changes both (under writeMu);
	// liveBytes is atomic so that Stats never waits for a write's fsync.
	live      int
	liveBytes atomic.Int64
}

const (
	segmentSuffix = ".wal"
	tmpSuffix     = ".tmp"
)

func segmentName(dir string, id uint32) string {
	return path.Join(dir, fmt.Sprintf("%016x%s", id, segmentSuffix))
}

// parseSegmentName returns the id of a segment file name, and whether it
// is one.
func parseSegmentName(name string) (uint32, bool) {
	hex, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(hex) != 16 {
		return 0, false
	}
	id, err := strconv.ParseUint(hex, 16, 32)
	return uint32(id), err == nil && id > 0
}

func (s *segment) String() string { return fmt.Sprintf("segment %d (%s)", s.id, s.name) }

// createSegment makes segment id, preallocated to size, durably: the file
// is built under a temporary name and renamed into place, so a segment
// found at open always has its header. Failures before the rename leave
// the store as it was; the caller decides whether later ones are fatal
// (renamed reports that the rename was attempted).
func createSegment(fs vfs.FS, dir string, id uint32, size int64) (seg *segment, renamed bool, err error) {
	name := segmentName(dir, id)
	tmp := name + tmpSuffix
	f, err := fs.Create(tmp)
	if errors.Is(err, iofs.ErrExist) {
		// A leftover of an earlier attempt whose cleanup failed: never in
		// use, so it goes.
		if err := fs.Remove(tmp); err != nil {
			return nil, false, err
		}
		f, err = fs.Create(tmp)
	}
	if err != nil {
		return nil, false, diskFull(err)
	}
	fail := func(err error) (*segment, bool, error) {
		f.Close()
		fs.Remove(tmp)
		return nil, false, diskFull(err)
	}
	if err := f.Preallocate(size); err != nil {
		return fail(err)
	}
	hdr, at := beginRecord(nil, recSegment)
	hdr = encodeSegmentHeader(hdr, uint64(id))
	hdr = finishRecord(hdr, at)
	markEndOfWrite(hdr, at)
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := fs.Rename(tmp, name); err != nil {
		f.Close()
		return nil, true, err
	}
	if err := fs.SyncDir(dir); err != nil {
		f.Close()
		return nil, true, err
	}
	return &segment{id: id, name: name, f: f, size: size, end: int64(len(hdr))}, true, nil
}

// segmentHeaderSize is the size of the header record of segment id.
func segmentHeaderSize(id uint32) int64 {
	return recordSize(uint32(len(encodeSegmentHeader(nil, uint64(id)))))
}

// diskFull marks an out-of-space error as ErrDiskFull, keeping the cause.
func diskFull(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}
