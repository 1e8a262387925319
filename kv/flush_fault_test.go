package kv

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// A disk that refuses new tables (a deleted data folder, a full or
// read-only disk) fails Flush and Close with the disk's error. Pebble
// itself retries a failed flush for ever, so both used to hang, and with
// them the snapshot stage and a node's shutdown. Giving up is safe: the
// Raft log holds every entry the store did not flush.
func TestFlushAndCloseGiveUpOnAFailingDisk(t *testing.T) {
	mem := vfs.NewMem()
	var broken atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if broken.Load() && op.Kind == errorfs.OpCreate && strings.HasSuffix(op.Path, ".sst") {
			return errorfs.ErrInjected
		}
		return nil
	})
	s, err := Open(memOptions(errorfs.Wrap(mem, inj)))
	if err != nil {
		t.Fatal(err)
	}
	m := machine(t, s, 1)
	apply(t, m, EncodePut(nil, []byte("k"), []byte("v")))
	broken.Store(true)

	if err := s.Flush(); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Flush on a failing disk: %v, want the injected error", err)
	}
	apply(t, m, EncodePut(nil, []byte("k2"), []byte("v2")))
	if err := s.Close(); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Close on a failing disk: %v, want the injected error", err)
	}
	// Let Pebble's retries succeed, so that it can be closed after all
	// and stops retrying beside the other tests.
	broken.Store(false)
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	s.cache.Unref()
}
