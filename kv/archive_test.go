package kv

import (
	"bytes"
	"context"
	"errors"
	"github.com/raftpipe/raftpipe/fsm"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// archived writes a 400-key snapshot of group 1 and returns its archive.
func archived(t testing.TB) ([]byte, fsm.SnapshotManifest) {
	fs := vfs.NewMem()
	s, err := Open(memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, _ := s.Machine(1)
	for i := range 400 {
		if err := m.Update(entryOf(m, EncodePut(nil, []byte{byte(i >> 8), byte(i)}, bytes.Repeat([]byte{'v'}, 50)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	src, _ := m.prepareSnapshot()
	defer src.Close()
	man, err := src.write("snap", 8<<10)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := fsm.WriteArchive(&buf, fs, "snap", man); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != fsm.ArchiveBytes(man) {
		t.Fatalf("archive of %d bytes, ArchiveBytes says %d", buf.Len(), fsm.ArchiveBytes(man))
	}
	return buf.Bytes(), man
}

// An archive extracts to the same files, which install.
func TestArchiveRoundTrip(t *testing.T) {
	data, man := archived(t)
	fs := vfs.NewMem()
	got, err := fsm.ExtractArchive(bytes.NewReader(data), fs, "in")
	if err != nil {
		t.Fatal(err)
	}
	if got.Group != man.Group || got.Index != man.Index || len(got.Files) != len(man.Files) || got.Files[0] != man.Files[0] {
		t.Fatalf("manifest %+v, want %+v", got, man)
	}
	s := openStore(t, fs)
	m := machine(t, s, 1)
	if err := s.Install(context.Background(), "in", got); err != nil {
		t.Fatal(err)
	}
	if m.Applied() != man.Index || len(scanAll(t, m)) != 400 {
		t.Fatalf("installed %d keys at %d", len(scanAll(t, m)), m.Applied())
	}
}

// A truncated or damaged archive is refused, naming the file at fault.
func TestArchiveRefusesDamage(t *testing.T) {
	data, man := archived(t)
	last := man.Files[len(man.Files)-1].Name
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"truncated": {data[:len(data)-7], last},
		"flipped":   {flip(data, len(data)-100), last},
		"header":    {flip(data, len("RPSNAP1\n")+3), "header"},
		"magic":     {append([]byte("RPSNAP2\n"), data[8:]...), "not a snapshot archive"},
		"trailing":  {append(append([]byte(nil), data...), 0), "bytes after the last file"},
	} {
		_, err := fsm.ExtractArchive(bytes.NewReader(tc.data), vfs.NewMem(), "in")
		if !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrCorruptSnapshot naming %q", name, err, tc.want)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

// FuzzExtractArchive: any bytes either extract into files that match the
// manifest or are refused with ErrCorruptSnapshot; nothing panics, and no
// name escapes the folder.
func FuzzExtractArchive(f *testing.F) {
	data, _ := archived(f)
	f.Add(data)
	f.Add(data[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := vfs.NewMem()
		man, err := fsm.ExtractArchive(bytes.NewReader(b), fs, "in")
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error %v is not ErrCorruptSnapshot", err)
			}
			return
		}
		for _, file := range man.Files {
			if err := verifyFile(fs, "in/"+file.Name, file); err != nil {
				t.Fatalf("extracted %s does not match its manifest: %v", file.Name, err)
			}
		}
	})
}
