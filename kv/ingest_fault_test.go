package kv

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// A fault injected at each step of an install that touches the snapshot's
// files (opening, reading, syncing, linking them into Pebble), then a
// crash and a restart: the group holds either its old state, whole, at its
// old applied index, or the snapshot's, whole, at its index; an install
// that returned without error is always the latter.
func TestInstallFaultThenRestartIsConsistent(t *testing.T) {
	fs, man := snapshotOfNew(t, 300, "new", 4<<10)
	faults := 0
	for k := int32(1); ; k++ {
		mem := vfs.NewCrashableMem()
		var armed atomic.Bool
		var seen atomic.Int32
		inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
			if !armed.Load() || !(strings.Contains(op.Path, "snap") || op.Kind == errorfs.OpLink) {
				return nil
			}
			if seen.Add(1) == k {
				return errorfs.ErrInjected
			}
			return nil
		})
		dst, err := Open(memOptions(errorfs.Wrap(mem, inj)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := dst.Machine(1)
		apply(t, b, EncodePut(nil, []byte("old"), []byte("x")))
		if err := dst.Flush(); err != nil {
			t.Fatal(err)
		}
		copyFiles(t, fs, mem, "snap", man)
		armed.Store(true)
		ierr := dst.Install(context.Background(), "snap", man)
		armed.Store(false)
		crashed := mem.CrashClone(vfs.CrashCloneCfg{})
		dst.Close()

		after := openStore(t, crashed)
		m := machine(t, after, 1)
		keys := len(scanAll(t, m))
		_, hasOld := get(t, m, "old")
		switch {
		case m.Applied() == 1 && keys == 1 && hasOld:
			if ierr == nil {
				t.Fatalf("fault %d: the install returned nil, but a crash took the group back to its old state", k)
			}
		case m.Applied() == man.Index && keys == 300 && !hasOld:
		default:
			t.Fatalf("fault %d (install: %v): after a crash, applied %d with %d keys (old key there: %v): neither the old state nor the snapshot's", k, ierr, m.Applied(), keys, hasOld)
		}
		after.Close()
		if ierr == nil {
			break // k went past the last step the install takes
		}
		faults++
	}
	if faults < 3 {
		t.Fatalf("only %d faults were injected: the install touched its files fewer times than expected", faults)
	}
}
