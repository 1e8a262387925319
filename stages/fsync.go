package stages

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore"
	"github.com/raftpipe/raftpipe/ringbuf"
)

// PersistRequest is one Ready's writes for one group: what the step worker
// that owns the group needs made durable before it may call
// consensus.Core.Persisted(Seq).
type PersistRequest struct {
	Group     uint64
	Gen       uint64 // the group's incarnation on its worker, echoed in the ack
	Worker    int    // where the acknowledgement goes
	Seq       uint64
	Snapshot  *consensus.SnapshotMeta
	Entries   []consensus.Entry
	HardState consensus.HardState
	// Compact, if set, makes this a compaction of the group's log up to a
	// snapshot the host took, and nothing else: it is written on its own,
	// after the drain's other writes, and its outcome sent on CompactDone
	// (buffered) once durable or refused.
	Compact     *consensus.SnapshotMeta
	CompactDone chan error
	// Forgotten, if set, makes this the notice that the group stopped
	// here, and nothing else: the stage drops what it remembers of the
	// group, then closes Forgotten.
	Forgotten chan struct{}
}

// PersistAck says that the write Seq of Group is durable.
type PersistAck struct {
	Group, Gen, Seq uint64
}

// FsyncConfig sizes the fsync stage.
type FsyncConfig struct {
	// Capacity is the ring's size in requests (a power of two).
	Capacity int
	// WriteBytesMax cuts a drain into several writes once its entries
	// reach this many bytes; it must stay below the logstore's own limit.
	WriteBytesMax int
	Wait          ringbuf.WaitStrategy
}

// FsyncStage is the only writer of a host's logstore: it drains the
// persist requests of every group, writes all of them with one
// Store.Write (one write syscall, one fdatasync), and only then hands each
// worker the acknowledgements of its groups, one call per worker. This is
// group commit: under load one sync covers many entries of many groups,
// and a quiet host syncs each request alone, without waiting for company.
//
// A hard state that changes only the commit index is not synced on its
// own: it is acknowledged at once and rides along with the next write
// that syncs anyway (or the final one at Close). Only the term, the vote
// and the entries are promises to other nodes that must be durable before
// anyone hears of them (etcd raft's MustSync draws the same line); a commit
// index lost in a crash is learnt again from the leader, and a state
// machine's applied index stands in for it at restart. Without this, each
// write cost a second fdatasync for its commit, on every replica.
//
// A failed write is fatal: the store has failed stop, nothing written
// since the last good sync may be acknowledged, and Run returns the error
// so the host stops.
type FsyncStage struct {
	ring  *ringbuf.Ring[PersistRequest]
	store *logstore.Store
	ack   func(worker int, acks []PersistAck)
	cfg   FsyncConfig
	stats stageCounters
	// writingSince is when the log write under way began, in Unix
	// nanoseconds; 0 while none is. The engine's stall check reads it.
	writingSince atomic.Int64

	// Owned by the consumer.
	batch    logstore.Batch
	bytes    int
	pending  []PersistRequest               // written into batch, not yet acknowledged
	lastHS   map[uint64]consensus.HardState // the newest per group, on disk or in deferred
	deferred map[uint64]consensus.HardState // commit-only hard states not written yet
	byWorker map[int][]PersistAck
	// compactions wait for the end of the drain's writes.
	compactions []PersistRequest
}

// NewFsyncStage returns a stage writing to store; ack is called from the
// stage's goroutine after each sync, once per worker with acknowledgements;
// the slice is reused after the call returns.
func NewFsyncStage(store *logstore.Store, cfg FsyncConfig, ack func(worker int, acks []PersistAck)) (*FsyncStage, error) {
	ring, err := ringbuf.New[PersistRequest](ringbuf.Config{Capacity: cfg.Capacity, Wait: cfg.Wait})
	if err != nil {
		return nil, fmt.Errorf("stages: fsync ring: %w", err)
	}
	if cfg.WriteBytesMax <= 0 {
		return nil, fmt.Errorf("stages: fsync write_bytes_max %d must be positive", cfg.WriteBytesMax)
	}
	return &FsyncStage{
		ring: ring, store: store, ack: ack, cfg: cfg,
		lastHS:   map[uint64]consensus.HardState{},
		deferred: map[uint64]consensus.HardState{},
		byWorker: map[int][]PersistAck{},
	}, nil
}

// Submit queues requests, waiting while the ring is full (back-pressure
// on the step workers) or until ctx ends.
func (s *FsyncStage) Submit(ctx context.Context, reqs ...PersistRequest) error {
	for len(reqs) > 0 {
		n := min(len(reqs), s.ring.Cap())
		if err := s.ring.PublishBatch(ctx, reqs[:n]); err != nil {
			return err
		}
		reqs = reqs[n:]
	}
	return nil
}

// write writes b to the log, marking the time it takes for WritingFor.
func (s *FsyncStage) write(b *logstore.Batch) error {
	s.writingSince.Store(time.Now().UnixNano())
	defer s.writingSince.Store(0)
	return s.store.Write(b)
}

// WritingFor returns how long the log write under way (its write and its
// fdatasync) has taken at now; 0 while none is under way.
func (s *FsyncStage) WritingFor(now time.Time) time.Duration {
	since := s.writingSince.Load()
	if since == 0 {
		return 0
	}
	return now.Sub(time.Unix(0, since))
}

// Run is the stage's consumer. It returns ringbuf.ErrClosed after Close,
// once the deferred commit indexes are written, or the error of the write
// that failed.
func (s *FsyncStage) Run() error {
	err := s.ring.Run(s.handle)
	if errors.Is(err, ringbuf.ErrClosed) && len(s.deferred) > 0 {
		s.addDeferred()
		if werr := s.write(&s.batch); werr != nil {
			return fmt.Errorf("stages: fsync stage: final write: %w", werr)
		}
	}
	return err
}

// addDeferred puts the deferred hard states into the batch.
func (s *FsyncStage) addDeferred() {
	for g, hs := range s.deferred {
		s.batch.SetHardState(g, hs)
	}
	clear(s.deferred)
}

// Close stops the stage once what was submitted before is written.
func (s *FsyncStage) Close() { s.ring.Close() }

// Stats returns the stage's counters.
func (s *FsyncStage) Stats() Stats { return s.stats.snapshot(s.ring.Len(), s.ring.Cap()) }

func (s *FsyncStage) handle(reqs []PersistRequest, end bool) error {
	for i := range reqs {
		r := &reqs[i]
		if r.Forgotten != nil {
			// Writes of the group before its stop are ahead of this in
			// the ring, and in s.pending if not yet flushed; a deferred
			// commit index of it is still written, which is harmless.
			delete(s.lastHS, r.Group)
			close(r.Forgotten)
			continue
		}
		if r.Compact != nil {
			s.compactions = append(s.compactions, *r)
			continue
		}
		if r.Snapshot != nil {
			s.batch.InstallSnapshot(r.Group, *r.Snapshot)
		}
		if len(r.Entries) > 0 {
			s.batch.Append(r.Group, r.Entries)
			for j := range r.Entries {
				s.bytes += len(r.Entries[j].Data)
			}
		}
		last, ok := s.lastHS[r.Group]
		switch {
		case ok && last == r.HardState:
		case ok && r.Snapshot == nil && len(r.Entries) == 0 && last.Term == r.HardState.Term && last.Vote == r.HardState.Vote:
			s.deferred[r.Group] = r.HardState
		default:
			s.batch.SetHardState(r.Group, r.HardState)
			delete(s.deferred, r.Group)
		}
		s.lastHS[r.Group] = r.HardState
		s.pending = append(s.pending, *r)
		if s.bytes >= s.cfg.WriteBytesMax {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	if end {
		if err := s.flush(); err != nil {
			return err
		}
		return s.compactLogs()
	}
	return nil
}

// compactLogs writes the drain's compactions, each on its own, after the
// drain's entries. A compaction the log refuses (ErrInvalidWrite: the log
// already starts past it, after a snapshot was installed, say) leaves the
// log as it was and is dropped; the next snapshot brings another.
func (s *FsyncStage) compactLogs() error {
	for _, r := range s.compactions {
		var b logstore.Batch
		b.Compact(r.Group, r.Compact.Index, r.Compact.Membership)
		err := s.write(&b)
		if r.CompactDone != nil {
			r.CompactDone <- err
		}
		if err != nil && !errors.Is(err, logstore.ErrInvalidWrite) {
			return fmt.Errorf("stages: fsync stage stopped: compacting group %d to %d: %w", r.Group, r.Compact.Index, err)
		}
	}
	clear(s.compactions)
	s.compactions = s.compactions[:0]
	return nil
}

// flush writes and syncs what is pending and acknowledges it.
func (s *FsyncStage) flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	start := time.Now()
	if !s.batch.Empty() {
		s.addDeferred()
		if err := s.write(&s.batch); err != nil {
			return fmt.Errorf("stages: fsync stage stopped: %w", err)
		}
	}
	for _, r := range s.pending {
		s.byWorker[r.Worker] = append(s.byWorker[r.Worker], PersistAck{Group: r.Group, Gen: r.Gen, Seq: r.Seq})
	}
	// Counted before the acknowledgements go out, so that whoever sees an
	// acknowledgement also sees it counted.
	s.stats.record(len(s.pending), time.Since(start))
	for w, acks := range s.byWorker {
		s.ack(w, acks)
		s.byWorker[w] = acks[:0]
	}
	clear(s.pending) // drop references to entries the store now caches
	s.pending = s.pending[:0]
	s.batch.Reset()
	s.bytes = 0
	return nil
}
