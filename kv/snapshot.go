package kv

import (
	"context"
	"errors"
	"fmt"
	"github.com/raftpipe/raftpipe/fsm"
	"hash/crc32"
	"io"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A group's snapshot is its span of Pebble written out as SST files with
// Pebble's sstable writer, never re-inserted key by key: the receiver
// ingests the files straight into its LSM, replacing the group's span in
// one step (IngestAndExcise). The applied index key is inside the span, so
// the files carry the index the state is as of, and ingesting them moves
// data and applied index together.

// ErrCorruptSnapshot wraps every verification failure of Install and
// ExtractArchive.
var ErrCorruptSnapshot = fsm.ErrCorruptSnapshot

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotSource is a consistent view of one group's state, taken between
// two apply drains, to be written out off the apply path.
type SnapshotSource struct {
	m     *Machine
	snap  *pebble.Snapshot
	index uint64
}

// PrepareSnapshot captures the group's committed state as of Applied. The
// apply stage calls it between drains, so no Update is half-committed; it
// costs a Pebble snapshot (a sequence number), no copy.
func (m *Machine) PrepareSnapshot() (fsm.SnapshotSource, error) { return m.prepareSnapshot() }

func (m *Machine) prepareSnapshot() (*SnapshotSource, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	return &SnapshotSource{m: m, snap: m.s.db.NewSnapshot(), index: m.applied.Load()}, nil
}

// Index is the applied index the source's state is as of.
func (src *SnapshotSource) Index() uint64 { return src.index }

// Close releases the Pebble snapshot.
func (src *SnapshotSource) Close() error { return src.snap.Close() }

// Write writes the group's span into SST files in dir, each cut near the
// store's Options.SnapshotFileBytes, synced along with dir, and returns
// the manifest.
func (src *SnapshotSource) Write(dir string) (fsm.SnapshotManifest, error) {
	return src.write(dir, src.m.s.snapshotFileBytes)
}

func (src *SnapshotSource) write(dir string, fileBytesTarget int64) (fsm.SnapshotManifest, error) {
	s, g := src.m.s, src.m.group
	man := fsm.SnapshotManifest{Group: g, Index: src.index}
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return man, fmt.Errorf("kv: group %d snapshot: %w", g, err)
	}
	lo, hi := groupSpan(g)
	it, err := src.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return man, fmt.Errorf("kv: group %d snapshot: %w", g, err)
	}
	defer it.Close()
	var w *sstWriter
	for ok := it.First(); ok; ok = it.Next() {
		if w == nil {
			name := fmt.Sprintf("%06d.sst", len(man.Files)+1)
			if w, err = s.newSSTWriter(filepath.Join(dir, name), name); err != nil {
				return man, fmt.Errorf("kv: group %d snapshot: %w", g, err)
			}
		}
		v, err := it.ValueAndErr()
		if err == nil {
			err = w.w.Set(it.Key(), v)
		}
		if err != nil {
			w.abort()
			return man, fmt.Errorf("kv: group %d snapshot file %s: %w", g, w.name, err)
		}
		if int64(w.w.Raw().EstimatedSize()) >= fileBytesTarget {
			f, err := w.finish()
			if err != nil {
				return man, fmt.Errorf("kv: group %d snapshot file %s: %w", g, w.name, err)
			}
			man.Files = append(man.Files, f)
			w = nil
		}
	}
	if err := it.Error(); err != nil {
		if w != nil {
			w.abort()
		}
		return man, fmt.Errorf("kv: group %d snapshot: %w", g, err)
	}
	if w != nil {
		f, err := w.finish()
		if err != nil {
			return man, fmt.Errorf("kv: group %d snapshot file %s: %w", g, w.name, err)
		}
		man.Files = append(man.Files, f)
	}
	if err := syncDir(s.fs, dir); err != nil {
		return man, fmt.Errorf("kv: group %d snapshot: %w", g, err)
	}
	return man, nil
}

// sstWriter is one SST file being written.
type sstWriter struct {
	fs   vfs.FS
	path string
	name string
	w    *sstable.Writer
}

func (s *Store) newSSTWriter(path, name string) (*sstWriter, error) {
	f, err := s.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, err
	}
	wo := s.popts.MakeWriterOptions(0, s.db.TableFormat())
	return &sstWriter{fs: s.fs, path: path, name: name, w: sstable.NewWriter(objstorageprovider.NewFileWritable(f), wo)}, nil
}

// finish closes the table, which syncs and closes its file, and takes the
// file's checksum by reading it back: the checksum is then of what is on
// disk, whatever the writer and the file did with their buffers (Pebble's
// invariant builds scribble over a buffer once written).
func (w *sstWriter) finish() (fsm.SnapshotFile, error) {
	if err := w.w.Close(); err != nil {
		return fsm.SnapshotFile{}, err
	}
	n, crc, err := fileChecksum(w.fs, w.path)
	return fsm.SnapshotFile{Name: w.name, Bytes: n, CRC32C: crc}, err
}

func (w *sstWriter) abort() { w.w.Close() }

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Install replaces group's state with the snapshot in dir: every file is
// checked against the manifest first (a truncated or corrupted one is
// refused with ErrCorruptSnapshot naming it, and the old state kept),
// then the group's span is replaced by the files in one atomic step, so a
// crash leaves either the old state or the new one. The group's machine,
// if open, then reads as of the snapshot's index. The apply stage calls it
// between drains. The files are Pebble's afterwards.
func (s *Store) Install(ctx context.Context, dir string, man fsm.SnapshotManifest) error {
	if len(man.Files) == 0 {
		return fmt.Errorf("%w: group %d index %d: no files", ErrCorruptSnapshot, man.Group, man.Index)
	}
	paths := make([]string, len(man.Files))
	for i, f := range man.Files {
		paths[i] = filepath.Join(dir, f.Name)
		if err := verifyFile(s.fs, paths[i], f); err != nil {
			return fmt.Errorf("%w: group %d index %d: file %s: %v", ErrCorruptSnapshot, man.Group, man.Index, f.Name, err)
		}
	}
	if err := syncDir(s.fs, dir); err != nil {
		return fmt.Errorf("kv: group %d: snapshot %d: %w", man.Group, man.Index, err)
	}
	lo, hi := groupSpan(man.Group)
	if _, err := s.db.IngestAndExcise(ctx, paths, nil, nil, pebble.KeyRange{Start: lo, End: hi}); err != nil {
		return fmt.Errorf("kv: group %d: ingest snapshot %d: %w", man.Group, man.Index, err)
	}
	applied, err := s.readApplied(man.Group)
	if err != nil {
		return err
	}
	if applied != man.Index {
		return fmt.Errorf("%w: group %d: files hold applied index %d, manifest says %d", ErrCorruptSnapshot, man.Group, applied, man.Index)
	}
	s.mu.Lock()
	m := s.machines[man.Group]
	s.mu.Unlock()
	if m != nil {
		m.applied.Store(applied)
		m.pendingApplied = applied
	}
	return nil
}

// verifyFile checks that the file at path has f's size and checksum, and
// syncs it: an ingest links the file into Pebble as it is, and the
// manifest that then names it is synced, so its bytes must be durable
// first, whoever wrote them.
func verifyFile(fs vfs.FS, path string, f fsm.SnapshotFile) error {
	file, err := fs.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	n, crc, err := checksum(file)
	switch {
	case err != nil:
		return err
	case n != f.Bytes:
		return fmt.Errorf("%d bytes, want %d (truncated?)", n, f.Bytes)
	case crc != f.CRC32C:
		return fmt.Errorf("checksum %#08x, want %#08x", crc, f.CRC32C)
	}
	return file.Sync()
}

// fileChecksum returns the size and CRC32C of the file at path.
func fileChecksum(fs vfs.FS, path string) (int64, uint32, error) {
	file, err := fs.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer file.Close()
	return checksum(file)
}

// checksum reads file from where it is to its end.
func checksum(file vfs.File) (int64, uint32, error) {
	crc, n := uint32(0), int64(0)
	buf := make([]byte, 256<<10)
	for {
		k, err := file.Read(buf)
		crc = crc32.Update(crc, castagnoli, buf[:k])
		n += int64(k)
		if errors.Is(err, io.EOF) {
			return n, crc, nil
		}
		if err != nil {
			return n, crc, err
		}
	}
}

// RecoverFromSnapshot replaces the group's state with the snapshot in dir
// (Store.Install).
func (m *Machine) RecoverFromSnapshot(dir string, man fsm.SnapshotManifest) error {
	if man.Group != m.group {
		return fmt.Errorf("%w: a snapshot of group %d given to group %d", ErrCorruptSnapshot, man.Group, m.group)
	}
	return m.s.Install(context.Background(), dir, man)
}

var _ fsm.Snapshotter = (*Machine)(nil)
