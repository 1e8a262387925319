package stages

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/transport"
)

// Catch-up by snapshot. A leader whose log no longer holds what a follower
// needs sends it MsgSnap, naming the snapshot the log starts after: the
// worker hands it here instead of to the replicate stage, and the
// snapshot's archive streams to the follower straight from its folder
// (transport.SendSnapshot). The follower's transport hands the stream over
// whole and verified; it is extracted into the follower's own snapshot
// folder, and the MsgSnap is stepped. The core then hands the snapshot out
// in a Ready: the fsync stage records it in the log, and the apply stage
// replaces the state machine's state with it (fsm.Snapshotter) before any
// later entry, then tells the worker it is installed.

// SnapshotSender is what sends snapshot streams: the transport.
type SnapshotSender interface {
	SendSnapshot(transport.OutgoingSnapshot) error
}

// outgoing are the archives being streamed, until the transport reports
// how each ended.
type outgoing struct {
	mu   sync.Mutex
	open map[[2]uint64]*fsm.ArchiveReader // (group, to)
}

// installInfo is a received snapshot waiting for its core to hand it out.
type installInfo struct {
	dir string
	man fsm.SnapshotManifest
}

// sendSnapshot streams group's snapshot named by m to m.To, or reports the
// send failed when there is no such snapshot here.
func (e *Engine) sendSnapshot(group uint64, m consensus.Message) {
	fail := func(err error) {
		e.log.Warn("cannot send a snapshot", "group", group, "to", m.To, "index", m.Snapshot.Index, "err", err)
		e.SnapshotStatus(group, m.To, false)
	}
	sender, ok := e.cfg.Sender.(SnapshotSender)
	if !ok || e.cfg.Snapshot.Dir == "" {
		fail(errors.New("no snapshot sender or no snapshot folder"))
		return
	}
	dir := filepath.Join(e.cfg.Snapshot.Dir, strconv.FormatUint(group, 10), strconv.FormatUint(m.Snapshot.Index, 10))
	b, err := os.ReadFile(filepath.Join(dir, snapshotManifestFile))
	if err != nil {
		fail(err)
		return
	}
	man, err := fsm.DecodeManifest(b)
	if err != nil {
		fail(err)
		return
	}
	a, err := fsm.OpenArchive(vfs.Default, dir, man)
	if err != nil {
		fail(err)
		return
	}
	key := [2]uint64{group, m.To}
	e.out.mu.Lock()
	if old := e.out.open[key]; old != nil {
		e.out.mu.Unlock()
		a.Close()
		return // one stream at a time to a follower; the core asks again if it fails
	}
	e.out.open[key] = a
	e.out.mu.Unlock()
	if err := sender.SendSnapshot(transport.OutgoingSnapshot{Group: group, Message: m, Data: a, Size: a.Size()}); err != nil {
		e.closeOutgoing(group, m.To)
		fail(err)
		return
	}
	e.log.Info("sending a snapshot", "group", group, "to", m.To, "index", m.Snapshot.Index, "bytes", a.Size())
}

// closeOutgoing closes the archive streamed to node, once its outcome is
// known.
func (e *Engine) closeOutgoing(group, node uint64) {
	e.out.mu.Lock()
	a := e.out.open[[2]uint64{group, node}]
	delete(e.out.open, [2]uint64{group, node})
	e.out.mu.Unlock()
	if a != nil {
		a.Close()
	}
}

// recoverFromLocalSnapshot loads the snapshot at index from this host's
// folder into sm, when sm can load one and the folder holds it; otherwise
// it leaves sm as it is (and StartGroup refuses it).
func (e *Engine) recoverFromLocalSnapshot(group uint64, sm fsm.StateMachine, index uint64) error {
	sn, ok := sm.(fsm.Snapshotter)
	if !ok || e.cfg.Snapshot.Dir == "" {
		return nil
	}
	dir := filepath.Join(e.cfg.Snapshot.Dir, strconv.FormatUint(group, 10), strconv.FormatUint(index, 10))
	b, err := os.ReadFile(filepath.Join(dir, snapshotManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stages: group %d: snapshot %d: %w", group, index, err)
	}
	man, err := fsm.DecodeManifest(b)
	if err == nil {
		err = sn.RecoverFromSnapshot(dir, man)
	}
	if err != nil {
		return fmt.Errorf("stages: group %d: load snapshot %d: %w", group, index, err)
	}
	return nil
}

// ReceiveSnapshot takes a snapshot stream that arrived whole: it extracts
// the archive into this host's snapshot folder, checking every file, and
// steps the MsgSnap that came with it. An error tells the sender the
// snapshot was not taken; its leader sends it again later.
func (e *Engine) ReceiveSnapshot(rs transport.ReceivedSnapshot) (err error) {
	defer os.Remove(rs.Path)
	start := time.Now()
	defer func() { ended(start, err, &e.snaps.received, &e.snaps.receiveFailures, &e.snaps.receiveTime) }()
	if e.cfg.Snapshot.Dir == "" {
		return errors.New("stages: this host keeps no snapshots")
	}
	meta := rs.Message.Snapshot
	if meta == nil {
		return errors.New("stages: a snapshot stream without its metadata")
	}
	if _, err := e.handle(rs.Group); err != nil {
		return err
	}
	groupDir := filepath.Join(e.cfg.Snapshot.Dir, strconv.FormatUint(rs.Group, 10))
	final := filepath.Join(groupDir, strconv.FormatUint(meta.Index, 10))
	tmp := final + ".recv"
	os.RemoveAll(tmp)
	f, err := os.Open(rs.Path)
	if err != nil {
		return err
	}
	man, err := fsm.ExtractArchive(f, vfs.Default, tmp)
	f.Close()
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("stages: group %d snapshot %d: %w", rs.Group, meta.Index, err)
	}
	if man.Group != rs.Group || man.Index != meta.Index {
		os.RemoveAll(tmp)
		return fmt.Errorf("%w: group %d index %d arrived as group %d's snapshot %d", fsm.ErrCorruptSnapshot, man.Group, man.Index, rs.Group, meta.Index)
	}
	if err := writeFileSynced(filepath.Join(tmp, snapshotManifestFile), fsm.EncodeManifest(man)); err != nil {
		return err
	}
	if err := writeFileSynced(filepath.Join(tmp, snapshotMetaFile), encodeSnapshotMeta(*meta)); err != nil {
		return err
	}
	os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if err := syncDirPath(groupDir); err != nil {
		return err
	}
	e.log.Info("extracted a received snapshot", "group", rs.Group, "index", meta.Index, "files", len(man.Files), "took", time.Since(start))
	e.installs.Store([2]uint64{rs.Group, meta.Index}, installInfo{dir: final, man: man})
	e.Deliver([]transport.Msg{{Group: rs.Group, Message: rs.Message}})
	return nil
}
