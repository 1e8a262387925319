package kv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/raftpipe/raftpipe/fsm"
	"hash/crc32"
	"io"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A snapshot travels as one stream (the transport's snapshot streams carry
// one file): an archive of its manifest and its SST files.
//
//	"RPSNAP1\n" | uvarint len(header) | header | crc32c(header) (4 bytes, little-endian) | the files' bytes, in order
//	header: uvarint group | uvarint index | uvarint n | n × (uvarint len(name) | name | uvarint bytes | crc32c (4 bytes, little-endian))
const archiveMagic = "RPSNAP1\n"

// archiveHeaderMax bounds a header: a few thousand files' names and sizes.
const archiveHeaderMax = 1 << 20

// WriteArchive writes the snapshot in dir described by man to w.
func WriteArchive(w io.Writer, fs vfs.FS, dir string, man fsm.SnapshotManifest) error {
	hdr := fsm.EncodeManifest(man)
	out := append([]byte(archiveMagic), binary.AppendUvarint(nil, uint64(len(hdr)))...)
	out = append(out, hdr...)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(hdr, castagnoli))
	if _, err := w.Write(out); err != nil {
		return err
	}
	for _, f := range man.Files {
		file, err := fs.Open(filepath.Join(dir, f.Name))
		if err != nil {
			return err
		}
		n, err := io.Copy(w, file)
		file.Close()
		if err == nil && n != f.Bytes {
			err = fmt.Errorf("kv: snapshot file %s: %d bytes, the manifest says %d", f.Name, n, f.Bytes)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ArchiveBytes is the size of the archive of man.
func ArchiveBytes(man fsm.SnapshotManifest) int64 {
	hdr := int64(len(fsm.EncodeManifest(man)))
	n := int64(len(archiveMagic)) + int64(len(binary.AppendUvarint(nil, uint64(hdr)))) + hdr + 4
	for _, f := range man.Files {
		n += f.Bytes
	}
	return n
}

// ExtractArchive reads an archive from r into dir, checking every file's
// size and checksum on the way (a damaged one is refused with
// ErrCorruptSnapshot naming it), and returns its manifest, ready for
// Store.Install.
func ExtractArchive(r io.Reader, fs vfs.FS, dir string) (fsm.SnapshotManifest, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(archiveMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != archiveMagic {
		return fsm.SnapshotManifest{}, fmt.Errorf("%w: not a snapshot archive (magic %q)", ErrCorruptSnapshot, magic)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > archiveHeaderMax {
		return fsm.SnapshotManifest{}, fmt.Errorf("%w: archive header length %d", ErrCorruptSnapshot, n)
	}
	hdr := make([]byte, n+4)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return fsm.SnapshotManifest{}, fmt.Errorf("%w: archive header: %v", ErrCorruptSnapshot, err)
	}
	if crc32.Checksum(hdr[:n], castagnoli) != binary.LittleEndian.Uint32(hdr[n:]) {
		return fsm.SnapshotManifest{}, fmt.Errorf("%w: archive header checksum", ErrCorruptSnapshot)
	}
	man, err := fsm.DecodeManifest(hdr[:n])
	if err != nil {
		return fsm.SnapshotManifest{}, fmt.Errorf("archive header: %w", err)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return man, err
	}
	for _, f := range man.Files {
		if err := extractFile(br, fs, filepath.Join(dir, f.Name), f); err != nil {
			return man, fmt.Errorf("%w: group %d index %d: file %s: %v", ErrCorruptSnapshot, man.Group, man.Index, f.Name, err)
		}
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		return man, fmt.Errorf("%w: group %d index %d: bytes after the last file", ErrCorruptSnapshot, man.Group, man.Index)
	}
	return man, syncDir(fs, dir)
}

func extractFile(r io.Reader, fs vfs.FS, path string, f fsm.SnapshotFile) error {
	out, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	defer out.Close()
	h := crc32.New(castagnoli)
	// The checksum first: a file may scribble over what it was handed
	// once it has its copy (Pebble's MemFS does, in its invariant builds,
	// to catch callers that reuse buffers).
	n, err := io.Copy(io.MultiWriter(h, out), io.LimitReader(r, f.Bytes))
	switch {
	case err != nil:
		return err
	case n != f.Bytes:
		return fmt.Errorf("%d bytes, want %d (truncated?)", n, f.Bytes)
	case h.Sum32() != f.CRC32C:
		return fmt.Errorf("checksum %#08x, want %#08x", h.Sum32(), f.CRC32C)
	}
	return out.Sync()
}
