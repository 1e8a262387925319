package stages

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
)

// SnapshotConfig is a host's snapshot policy.
type SnapshotConfig struct {
	// Dir keeps each group's snapshots, one folder per snapshot:
	// Dir/<group>/<index>/.
	Dir string
	// Entries takes a snapshot of a group each time this many entries
	// have been applied since its last one, and Bytes each time this many
	// bytes of entry data have; whichever comes first. 0 turns a trigger
	// off; with both off, no snapshot is taken.
	Entries uint64
	Bytes   uint64
	// TailEntries is how much log compaction keeps behind the newest
	// snapshot, for followers a little behind: the log is compacted to the
	// newest snapshot at least this far behind it, and the snapshots older
	// than that one are removed.
	TailEntries uint64
}

// snapshotJob is a captured state on its way to disk.
type snapshotJob struct {
	group   uint64
	sm      fsm.StateMachine
	src     fsm.SnapshotSource
	members *consensus.Membership  // as of src.Index(); nil: read it from the log
	reply   chan<- SnapshotOutcome // if set, told how the job ended
}

// SnapshotOutcome is how a requested snapshot ended: its index, or why
// none was written.
type SnapshotOutcome struct {
	Index uint64
	Err   error
}

// SnapshotStage takes the groups' snapshots off the apply path. The apply
// stage counts what it applies per group (noteApplied, on its goroutine)
// and, every Entries, captures the state between two drains, which is
// cheap (fsm.Snapshotter); this stage writes it out, then has the fsync
// stage compact the log up to the newest snapshot at
// least TailEntries behind, after making a machine on disk durable
// (fsm.Syncer); a machine in memory restarts from that snapshot
// (Engine.StartGroup). A follower that falls behind the log's start is
// sent that snapshot (catchup.go).
type SnapshotStage struct {
	cfg   SnapshotConfig
	e     *Engine
	log   *slog.Logger
	jobs  chan snapshotJob
	since map[uint64]appliedSince // the apply stage's: applied since the last capture

	mu   sync.Mutex
	busy map[uint64]bool // groups with a job under way
	// members is each group's membership as of its last applied
	// membership entry, or as read from the log at a capture's index, so
	// that a snapshot's metadata need not scan the log each time. A group
	// not in it has its membership read from the log at its next capture.
	members map[uint64]consensus.Membership
}

// appliedSince counts what a group applied since its last capture.
type appliedSince struct{ entries, bytes uint64 }

// due reports whether either of cfg's triggers has been reached.
func (a appliedSince) due(cfg SnapshotConfig) bool {
	return cfg.Entries > 0 && a.entries >= cfg.Entries || cfg.Bytes > 0 && a.bytes >= cfg.Bytes
}

// snapshotMetaFile holds a snapshot's consensus metadata (term and
// membership at its index); snapshotManifestFile its fsm manifest.
const (
	snapshotMetaFile     = "META"
	snapshotManifestFile = "MANIFEST"
)

func newSnapshotStage(e *Engine, cfg SnapshotConfig) *SnapshotStage {
	return &SnapshotStage{cfg: cfg, e: e, log: e.log, jobs: make(chan snapshotJob, 64), since: map[uint64]appliedSince{}, busy: map[uint64]bool{}, members: map[uint64]consensus.Membership{}}
}

// applied counts the entries just applied to group's sm, follows its
// membership, and captures a snapshot when one is due. It runs on the
// apply stage's goroutine, between drains.
func (s *SnapshotStage) applied(group uint64, sm fsm.StateMachine, tasks []ApplyTask, ents []fsm.Entry) {
	sn, ok := sm.(fsm.Snapshotter)
	if !ok {
		return
	}
	if err := s.followMembership(group, tasks); err != nil {
		// The log holds what the core accepted: a membership entry it
		// cannot read is damage the next capture reports, scanning it.
		s.forgetMembership(group)
	}
	a := s.since[group]
	a.entries += uint64(len(ents))
	for _, e := range ents {
		a.bytes += uint64(len(e.Cmd))
	}
	s.since[group] = a
	if !a.due(s.cfg) {
		return
	}
	// A capture that finds the last snapshot still being written, or the
	// queue full, is tried again after the next drain.
	s.capture(group, sm, sn, nil)
}

// requested captures a snapshot of group now, whatever the triggers say,
// and has its outcome sent on reply once written.
func (s *SnapshotStage) requested(group uint64, sm fsm.StateMachine, reply chan<- SnapshotOutcome) {
	sn, ok := sm.(fsm.Snapshotter)
	if !ok {
		reply <- SnapshotOutcome{Err: fmt.Errorf("stages: group %d: its state machine cannot take snapshots", group)}
		return
	}
	if err := s.capture(group, sm, sn, reply); err != nil {
		reply <- SnapshotOutcome{Err: err}
	}
}

// capture takes the machine's state and queues it to be written, unless a
// snapshot of the group is being written already or the queue is full.
// It runs on the apply stage's goroutine.
func (s *SnapshotStage) capture(group uint64, sm fsm.StateMachine, sn fsm.Snapshotter, reply chan<- SnapshotOutcome) error {
	s.mu.Lock()
	if s.busy[group] {
		s.mu.Unlock()
		return fmt.Errorf("%w: a snapshot of group %d is being written", ErrBusy, group)
	}
	s.busy[group] = true
	var members *consensus.Membership
	if m, ok := s.members[group]; ok {
		members = &m
	}
	s.mu.Unlock()
	src, err := sn.PrepareSnapshot()
	if err != nil {
		s.e.snaps.takeFailures.Add(1)
		s.log.Error("snapshot capture failed", "group", group, "err", err)
		s.done(group)
		return fmt.Errorf("stages: group %d: capture a snapshot: %w", group, err)
	}
	select {
	case s.jobs <- snapshotJob{group: group, sm: sm, src: src, members: members, reply: reply}:
		s.since[group] = appliedSince{}
		return nil
	default:
		src.Close()
		s.done(group)
		return fmt.Errorf("%w: the snapshot queue is full", ErrBusy)
	}
}

// installed starts the group's counts afresh after a received snapshot,
// whose membership the log now starts from.
func (s *SnapshotStage) installed(group uint64) {
	s.since[group] = appliedSince{}
	s.forgetMembership(group)
}

// followMembership records the membership entries among tasks.
func (s *SnapshotStage) followMembership(group uint64, tasks []ApplyTask) error {
	for _, t := range tasks {
		for _, e := range t.Entries {
			if e.Type != consensus.EntryMembership {
				continue
			}
			rec, err := consensus.DecodeMembershipEntry(e.Data)
			if err != nil {
				return err
			}
			s.mu.Lock()
			s.members[group] = rec.Result
			s.mu.Unlock()
		}
	}
	return nil
}

// forgetMembership makes the group's next capture read its membership
// from the log: after a snapshot replaced its state, or when it starts
// again (its machine may start behind what was followed).
func (s *SnapshotStage) forgetMembership(group uint64) {
	s.mu.Lock()
	delete(s.members, group)
	s.mu.Unlock()
}

func (s *SnapshotStage) done(group uint64) {
	s.mu.Lock()
	delete(s.busy, group)
	s.mu.Unlock()
}

// run writes the captured snapshots until close.
func (s *SnapshotStage) run() {
	for j := range s.jobs {
		index := j.src.Index()
		err := s.take(j)
		if err != nil {
			s.e.snaps.takeFailures.Add(1)
			s.log.Error("snapshot failed", "group", j.group, "index", index, "err", err)
		}
		j.src.Close()
		s.done(j.group)
		if j.reply != nil { // buffered: the caller may have given up
			j.reply <- SnapshotOutcome{Index: index, Err: err}
		}
	}
}

func (s *SnapshotStage) close() { close(s.jobs) }

// take writes one snapshot into its folder, atomically (a temporary
// folder renamed into place), then compacts the log if it may.
func (s *SnapshotStage) take(j snapshotJob) error {
	index := j.src.Index()
	if index == 0 {
		return nil
	}
	meta, err := s.metaAt(j, index)
	if err != nil {
		return err
	}
	groupDir := filepath.Join(s.cfg.Dir, strconv.FormatUint(j.group, 10))
	final := filepath.Join(groupDir, strconv.FormatUint(index, 10))
	if _, err := os.Stat(final); err == nil {
		return nil // taken already
	}
	tmp := final + ".tmp"
	os.RemoveAll(tmp)
	start := time.Now()
	man, err := j.src.Write(tmp)
	if err != nil {
		return err
	}
	man.Group = j.group
	if err := writeFileSynced(filepath.Join(tmp, snapshotManifestFile), fsm.EncodeManifest(man)); err != nil {
		return err
	}
	if err := writeFileSynced(filepath.Join(tmp, snapshotMetaFile), encodeSnapshotMeta(meta)); err != nil {
		return err
	}
	if err := syncDirPath(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if err := syncDirPath(groupDir); err != nil {
		return err
	}
	s.e.snaps.taken.Add(1)
	s.e.snaps.takeTime.record(time.Since(start))
	s.log.Info("took a snapshot", "group", j.group, "index", index, "files", len(man.Files), "bytes", man.Bytes(), "took", time.Since(start))
	if s.cfg.TailEntries >= index {
		return nil
	}
	// What the log drops must survive elsewhere. A machine on disk
	// (fsm.Syncer) makes its applied state durable first, and a restart
	// replays the log from there; a machine in memory starts from the
	// snapshot the log is compacted to, kept in its folder
	// (recoverFromLocalSnapshot).
	if syncer, ok := j.sm.(fsm.Syncer); ok {
		if err := syncer.Sync(); err != nil {
			return fmt.Errorf("sync the state machine: %w", err)
		}
	}
	return s.compact(j.group, groupDir, index-s.cfg.TailEntries)
}

// compact compacts the group's log to its newest snapshot at or below
// limit, whose metadata the log then records, and removes older snapshots.
func (s *SnapshotStage) compact(group uint64, groupDir string, limit uint64) error {
	indexes, err := snapshotIndexes(groupDir)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(indexes, func(x uint64) bool { return x > limit })
	if i == -1 {
		i = len(indexes)
	}
	if i == 0 {
		return nil // no snapshot far enough behind yet
	}
	target := indexes[i-1]
	b, err := os.ReadFile(filepath.Join(groupDir, strconv.FormatUint(target, 10), snapshotMetaFile))
	if err != nil {
		return err
	}
	meta, err := decodeSnapshotMeta(b)
	if err != nil {
		return fmt.Errorf("snapshot %d: %w", target, err)
	}
	// Older snapshots go only once the log no longer needs them: until the
	// compaction is durable, a restart may still start from the one the
	// log was compacted to before.
	done := make(chan error, 1)
	if err := s.e.fsync.Submit(s.e.ctx, PersistRequest{Group: group, Compact: &meta, CompactDone: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("compact the log to %d: %w", target, err)
		}
	case <-s.e.ctx.Done():
		return ErrStopped
	}
	for _, old := range indexes[:i-1] {
		os.RemoveAll(filepath.Join(groupDir, strconv.FormatUint(old, 10)))
	}
	return nil
}

// metaAt returns the term and membership of j's group at index. The
// membership is the one the apply stage followed, if it did; otherwise
// the log's snapshot's (or the one the group started with), changed by
// every membership entry of the log up to index, which is then followed.
func (s *SnapshotStage) metaAt(j snapshotJob, index uint64) (consensus.SnapshotMeta, error) {
	storage := s.e.cfg.Store.Storage(j.group)
	term, err := storage.Term(index)
	if err != nil {
		return consensus.SnapshotMeta{}, fmt.Errorf("term at %d: %w", index, err)
	}
	if j.members != nil {
		return consensus.SnapshotMeta{Index: index, Term: term, Membership: *j.members}, nil
	}
	snap, err := storage.Snapshot()
	if err != nil {
		return consensus.SnapshotMeta{}, err
	}
	members := snap.Membership
	if snap.IsZero() {
		v, ok := s.e.groups.Load(j.group)
		if !ok {
			return consensus.SnapshotMeta{}, fmt.Errorf("%w: %d", ErrGroupNotFound, j.group)
		}
		members = v.(*groupHandle).startMembers
	}
	for lo := snap.Index + 1; lo <= index; {
		ents, err := storage.Entries(lo, index+1, 16<<20)
		if err != nil {
			return consensus.SnapshotMeta{}, fmt.Errorf("entries [%d, %d]: %w", lo, index, err)
		}
		for _, e := range ents {
			if e.Type == consensus.EntryMembership {
				rec, err := consensus.DecodeMembershipEntry(e.Data)
				if err != nil {
					return consensus.SnapshotMeta{}, fmt.Errorf("membership entry %d: %w", e.Index, err)
				}
				members = rec.Result
			}
		}
		lo = ents[len(ents)-1].Index + 1
	}
	s.mu.Lock()
	if _, ok := s.members[j.group]; !ok { // else the apply stage has seen a newer change
		s.members[j.group] = members
	}
	s.mu.Unlock()
	return consensus.SnapshotMeta{Index: index, Term: term, Membership: members}, nil
}

// snapshotIndexes lists the indexes of the whole snapshots in groupDir,
// ascending.
func snapshotIndexes(groupDir string) ([]uint64, error) {
	ents, err := os.ReadDir(groupDir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		if i, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && e.IsDir() {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out, nil
}

// encodeSnapshotMeta: uvarint index | uvarint term | uvarint n voters |
// voters | uvarint n learners | learners.
func encodeSnapshotMeta(m consensus.SnapshotMeta) []byte {
	b := binary.AppendUvarint(nil, m.Index)
	b = binary.AppendUvarint(b, m.Term)
	for _, ids := range [][]uint64{m.Membership.Voters, m.Membership.Learners} {
		b = binary.AppendUvarint(b, uint64(len(ids)))
		for _, id := range ids {
			b = binary.AppendUvarint(b, id)
		}
	}
	return b
}

var errBadSnapshotMeta = errors.New("stages: corrupt snapshot metadata")

func decodeSnapshotMeta(b []byte) (consensus.SnapshotMeta, error) {
	var m consensus.SnapshotMeta
	next := func() (uint64, error) {
		v, w := binary.Uvarint(b)
		if w <= 0 {
			return 0, errBadSnapshotMeta
		}
		b = b[w:]
		return v, nil
	}
	var err error
	if m.Index, err = next(); err != nil {
		return m, err
	}
	if m.Term, err = next(); err != nil {
		return m, err
	}
	for _, ids := range []*[]uint64{&m.Membership.Voters, &m.Membership.Learners} {
		n, err := next()
		if err != nil || n > uint64(len(b)) {
			return m, errBadSnapshotMeta
		}
		for range n {
			id, err := next()
			if err != nil {
				return m, err
			}
			*ids = append(*ids, id)
		}
	}
	if len(b) != 0 {
		return m, errBadSnapshotMeta
	}
	return m, nil
}

func writeFileSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func syncDirPath(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
