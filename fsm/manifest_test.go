package fsm

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeManifest: any bytes decode to a manifest that encodes back to
// the same manifest, or are refused with ErrCorruptSnapshot; no name
// leaves its folder.
func FuzzDecodeManifest(f *testing.F) {
	f.Add(EncodeManifest(SnapshotManifest{Group: 3, Index: 99, Files: []SnapshotFile{{Name: "000001.sst", Bytes: 4096, CRC32C: 7}, {Name: "b", Bytes: 1}}}))
	f.Add(EncodeManifest(SnapshotManifest{Files: []SnapshotFile{{Name: "../x"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		man, err := DecodeManifest(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error %v is not ErrCorruptSnapshot", err)
			}
			return
		}
		again, err := DecodeManifest(EncodeManifest(man))
		if err != nil || !reflect.DeepEqual(again, man) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, man)
		}
	})
}

func TestDecodeManifestRefusesEscapingNames(t *testing.T) {
	for _, name := range []string{"../x", "a/b", ".hidden", ""} {
		_, err := DecodeManifest(EncodeManifest(SnapshotManifest{Files: []SnapshotFile{{Name: name}}}))
		if !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("file name %q: %v, want ErrCorruptSnapshot", name, err)
		}
	}
}
