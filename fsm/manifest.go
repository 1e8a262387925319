package fsm

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
)

// EncodeManifest encodes man, to travel before a snapshot's files or to be
// kept beside them:
//
//	uvarint group | uvarint index | uvarint n |
//	n × (uvarint len(name) | name | uvarint bytes | crc32c, 4 bytes little-endian)
func EncodeManifest(man SnapshotManifest) []byte {
	b := binary.AppendUvarint(nil, man.Group)
	b = binary.AppendUvarint(b, man.Index)
	b = binary.AppendUvarint(b, uint64(len(man.Files)))
	for _, f := range man.Files {
		b = binary.AppendUvarint(b, uint64(len(f.Name)))
		b = append(b, f.Name...)
		b = binary.AppendUvarint(b, uint64(f.Bytes))
		b = binary.LittleEndian.AppendUint32(b, f.CRC32C)
	}
	return b
}

// DecodeManifest reads what EncodeManifest wrote. File names must be
// plain and unique: a manifest never points outside its folder.
func DecodeManifest(b []byte) (SnapshotManifest, error) {
	var man SnapshotManifest
	bad := func(format string, args ...any) (SnapshotManifest, error) {
		return SnapshotManifest{}, fmt.Errorf("%w: manifest: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
	}
	uv := func() (uint64, bool) {
		v, w := binary.Uvarint(b)
		if w <= 0 {
			return 0, false
		}
		b = b[w:]
		return v, true
	}
	var n uint64
	var ok1, ok2, ok3 bool
	man.Group, ok1 = uv()
	man.Index, ok2 = uv()
	n, ok3 = uv()
	if !ok1 || !ok2 || !ok3 || n > uint64(len(b)) {
		return bad("bad group, index or file count")
	}
	seen := map[string]bool{}
	for i := range n {
		name, rest, err := readChunk(b)
		if err != nil {
			return bad("file %d name: %v", i, err)
		}
		b = rest
		size, ok := uv()
		if !ok || size > 1<<50 || len(b) < 4 {
			return bad("file %d size", i)
		}
		f := SnapshotFile{Name: string(name), Bytes: int64(size), CRC32C: binary.LittleEndian.Uint32(b)}
		b = b[4:]
		if f.Name == "" || f.Name != filepath.Base(f.Name) || strings.HasPrefix(f.Name, ".") || seen[f.Name] {
			return bad("file %d name %q is not a plain, unique file name", i, f.Name)
		}
		seen[f.Name] = true
		man.Files = append(man.Files, f)
	}
	if len(b) != 0 {
		return bad("%d bytes after the files", len(b))
	}
	return man, nil
}
