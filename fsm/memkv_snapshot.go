package fsm

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// MemKV's snapshot is one file of its pairs in key order, each as uvarint
// lengths and bytes. Capturing it copies the map (its values are never
// changed in place, so they are shared, not copied): linear in the number
// of keys, the price of a machine that keeps nothing on disk.
const memKVSnapshotFile = "memkv.snap"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type memKVSource struct {
	data  map[string][]byte
	index uint64
}

// PrepareSnapshot captures the state as of Applied.
func (m *MemKV) PrepareSnapshot() (SnapshotSource, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	data := make(map[string][]byte, len(m.data))
	for k, v := range m.data {
		data[k] = v
	}
	return &memKVSource{data: data, index: m.applied}, nil
}

func (s *memKVSource) Index() uint64 { return s.index }
func (s *memKVSource) Close() error  { s.data = nil; return nil }

// Write writes the pairs into dir/memkv.snap and syncs it.
func (s *memKVSource) Write(dir string) (SnapshotManifest, error) {
	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(s.data[k])))
		b = append(b, s.data[k]...)
	}
	man := SnapshotManifest{Index: s.index, Files: []SnapshotFile{{Name: memKVSnapshotFile, Bytes: int64(len(b)), CRC32C: crc32.Checksum(b, castagnoli)}}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return man, err
	}
	if err := writeSynced(filepath.Join(dir, memKVSnapshotFile), b); err != nil {
		return man, fmt.Errorf("fsm: memkv snapshot: %w", err)
	}
	return man, syncVFSDir(vfs.Default, dir)
}

// RecoverFromSnapshot replaces the state with the snapshot in dir.
func (m *MemKV) RecoverFromSnapshot(dir string, man SnapshotManifest) error {
	if len(man.Files) != 1 || man.Files[0].Name != memKVSnapshotFile {
		return fmt.Errorf("%w: index %d: want one file %s, the manifest lists %d", ErrCorruptSnapshot, man.Index, memKVSnapshotFile, len(man.Files))
	}
	f := man.Files[0]
	b, err := os.ReadFile(filepath.Join(dir, f.Name))
	switch {
	case err != nil:
		return fmt.Errorf("%w: index %d: file %s: %v", ErrCorruptSnapshot, man.Index, f.Name, err)
	case int64(len(b)) != f.Bytes:
		return fmt.Errorf("%w: index %d: file %s: %d bytes, want %d (truncated?)", ErrCorruptSnapshot, man.Index, f.Name, len(b), f.Bytes)
	case crc32.Checksum(b, castagnoli) != f.CRC32C:
		return fmt.Errorf("%w: index %d: file %s: checksum %#08x, want %#08x", ErrCorruptSnapshot, man.Index, f.Name, crc32.Checksum(b, castagnoli), f.CRC32C)
	}
	data := map[string][]byte{}
	for len(b) > 0 {
		var k, v []byte
		if k, b, err = readChunk(b); err == nil {
			v, b, err = readChunk(b)
		}
		if err != nil {
			return fmt.Errorf("%w: index %d: file %s: %v", ErrCorruptSnapshot, man.Index, f.Name, err)
		}
		data[string(k)] = v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.data, m.applied = data, man.Index
	return nil
}

func readChunk(b []byte) (chunk, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, fmt.Errorf("bad length at %d bytes from the end", len(b))
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var _ Snapshotter = (*MemKV)(nil)
