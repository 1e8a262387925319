package logstore

import "errors"

var (
	// ErrCorruptRecord reports a record whose checksum, trailer or contents
	// are wrong where no torn write can explain it. It comes wrapped with
	// the segment and offset.
	ErrCorruptRecord = errors.New("logstore: corrupt record")
	// ErrCorruptLog reports records that are each intact but contradict one
	// another, or a missing segment: the log as a whole is not one a store
	// could have written.
	ErrCorruptLog = errors.New("logstore: corrupt log")
	// ErrInvalidWrite reports a Batch operation that would break the log's
	// shape (a gap, terms going down, compaction past the last index).
	// Nothing of the batch was written; the store stays usable.
	ErrInvalidWrite = errors.New("logstore: invalid write")
	// ErrWriteTooLarge reports a Batch larger than Options.WriteBytesMax.
	// Nothing was written; the store stays usable.
	ErrWriteTooLarge = errors.New("logstore: write too large")
	// ErrDiskFull reports that the disk had no room for a new segment.
	// Nothing was written; the store stays usable once space is freed.
	ErrDiskFull = errors.New("logstore: disk full")
	// ErrFailed wraps the write or sync error that stopped the store. A
	// failed fsync is never retried: the kernel may have dropped the dirty
	// pages and cleared the error (PostgreSQL's "fsyncgate"), so a retry
	// that succeeds proves nothing. Every later call returns the error;
	// reopening the store recovers what was synced.
	ErrFailed = errors.New("logstore: failed")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("logstore: closed")
)
