package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
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

// archiveHead is what comes before the files: magic, header, checksum.
func archiveHead(man SnapshotManifest) []byte {
	hdr := EncodeManifest(man)
	out := append([]byte(archiveMagic), binary.AppendUvarint(nil, uint64(len(hdr)))...)
	out = append(out, hdr...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(hdr, castagnoli))
}

// WriteArchive writes the snapshot in dir described by man to w.
func WriteArchive(w io.Writer, fs vfs.FS, dir string, man SnapshotManifest) error {
	if _, err := w.Write(archiveHead(man)); err != nil {
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
			err = fmt.Errorf("fsm: snapshot file %s: %d bytes, the manifest says %d", f.Name, n, f.Bytes)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ArchiveBytes is the size of the archive of man.
func ArchiveBytes(man SnapshotManifest) int64 {
	n := int64(len(archiveHead(man)))
	for _, f := range man.Files {
		n += f.Bytes
	}
	return n
}

// ArchiveReader reads a snapshot's archive straight from its files, so a
// snapshot stream sends it without writing it out first.
type ArchiveReader struct {
	head  []byte
	files []vfs.File
	ends  []int64 // where the head and each file end in the archive
}

// OpenArchive opens the archive of the snapshot in dir described by man;
// every file must have the size the manifest gives it.
func OpenArchive(fs vfs.FS, dir string, man SnapshotManifest) (*ArchiveReader, error) {
	a := &ArchiveReader{head: archiveHead(man)}
	a.ends = append(a.ends, int64(len(a.head)))
	for _, f := range man.Files {
		file, err := fs.Open(filepath.Join(dir, f.Name))
		if err != nil {
			a.Close()
			return nil, err
		}
		a.files = append(a.files, file)
		st, err := file.Stat()
		if err == nil && st.Size() != f.Bytes {
			err = fmt.Errorf("%w: file %s: %d bytes, the manifest says %d", ErrCorruptSnapshot, f.Name, st.Size(), f.Bytes)
		}
		if err != nil {
			a.Close()
			return nil, err
		}
		a.ends = append(a.ends, a.ends[len(a.ends)-1]+f.Bytes)
	}
	return a, nil
}

// Size is the archive's length.
func (a *ArchiveReader) Size() int64 { return a.ends[len(a.ends)-1] }

// ReadAt reads the archive's bytes at off.
func (a *ArchiveReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for len(p) > 0 {
		if off >= a.Size() {
			return n, io.EOF
		}
		part := 0
		for a.ends[part] <= off {
			part++
		}
		start := a.ends[part] - a.partLen(part)
		want := p[:min(int64(len(p)), a.ends[part]-off)]
		var k int
		var err error
		if part == 0 {
			k = copy(want, a.head[off:])
		} else {
			k, err = a.files[part-1].ReadAt(want, off-start)
			if err == io.EOF && k == len(want) {
				err = nil
			}
		}
		n, off, p = n+k, off+int64(k), p[k:]
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (a *ArchiveReader) partLen(part int) int64 {
	if part == 0 {
		return a.ends[0]
	}
	return a.ends[part] - a.ends[part-1]
}

// Close closes the files.
func (a *ArchiveReader) Close() error {
	var err error
	for _, f := range a.files {
		err = errors.Join(err, f.Close())
	}
	return err
}

// ExtractArchive reads an archive from r into dir, checking every file's
// size and checksum on the way (a damaged one is refused with
// ErrCorruptSnapshot naming it), and returns its manifest, ready for
// Store.Install.
func ExtractArchive(r io.Reader, fs vfs.FS, dir string) (SnapshotManifest, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(archiveMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != archiveMagic {
		return SnapshotManifest{}, fmt.Errorf("%w: not a snapshot archive (magic %q)", ErrCorruptSnapshot, magic)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > archiveHeaderMax {
		return SnapshotManifest{}, fmt.Errorf("%w: archive header length %d", ErrCorruptSnapshot, n)
	}
	hdr := make([]byte, n+4)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return SnapshotManifest{}, fmt.Errorf("%w: archive header: %v", ErrCorruptSnapshot, err)
	}
	if crc32.Checksum(hdr[:n], castagnoli) != binary.LittleEndian.Uint32(hdr[n:]) {
		return SnapshotManifest{}, fmt.Errorf("%w: archive header checksum", ErrCorruptSnapshot)
	}
	man, err := DecodeManifest(hdr[:n])
	if err != nil {
		return SnapshotManifest{}, fmt.Errorf("archive header: %w", err)
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
	return man, syncVFSDir(fs, dir)
}

func extractFile(r io.Reader, fs vfs.FS, path string, f SnapshotFile) error {
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

func syncVFSDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
