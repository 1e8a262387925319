package logstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// faultWorkloadSteps is how many steps the fault workload runs: writes of
// several groups, and a purge every few writes, over 4 KiB segments, so
// that every call site of the file system is reached many times.
const faultWorkloadSteps = 40

func faultOptions(fs vfs.FS) Options {
	opts := smallOptions(fs)
	opts.SegmentBytes = 4 << 10
	opts.PurgeThresholdBytes = 8 << 10
	opts.RecordBytesTarget = 600
	return opts
}

// faultInjector fails the n-th call of one operation, as vfs.FailNth
// does, and records what a test needs to judge the store's reaction:
// whether the failed call was part of creating a segment (before its
// rename), and the fsyncs asked for after the failure.
type faultInjector struct {
	op vfs.Op
	n  int

	mu       sync.Mutex
	calls    map[vfs.Op]int
	creating bool // between a Create and the Rename that ends segment creation
	failed   bool
	name     string // the failed call's file
	inCreate bool   // the failed call was part of creating a segment
	syncs    int    // fsyncs (file or directory) after the failure
}

func (fi *faultInjector) inject(op vfs.Op, name string) error {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.failed && (op == vfs.OpSync || op == vfs.OpSyncDir) {
		fi.syncs++
	}
	switch op {
	case vfs.OpCreate:
		fi.creating = true
	case vfs.OpRename:
		defer func() { fi.creating = false }()
	}
	fi.calls[op]++
	if op == fi.op && fi.calls[op] == fi.n && !fi.failed {
		fi.failed, fi.name, fi.inCreate = true, name, fi.creating && op != vfs.OpRename
		return vfs.ErrInjected
	}
	return nil
}

// faultRun runs the fault workload on a fresh store with inject set once
// the store is open, and checks each step against the model.
type faultRun struct {
	t         *testing.T
	fs        *vfs.MemFS
	opts      Options
	s         *Store
	committed walModel
	batchGen  *batchGen
}

func newFaultRun(t *testing.T) *faultRun {
	fs := vfs.NewMem()
	opts := faultOptions(fs)
	rng := rand.New(rand.NewPCG(11, 11))
	return &faultRun{t: t, fs: fs, opts: opts, s: openStore(t, opts), committed: walModel{},
		batchGen: &batchGen{rng: rng, groups: 4, dataMax: 500}}
}

// step runs step k of the workload: a purge every fifth, else a write.
// It returns, for a write, the model had it succeeded, and the error.
func (r *faultRun) step(k int) (walModel, error) {
	if k%5 == 4 {
		return r.committed, r.s.Purge()
	}
	b, next := r.batchGen.batch(r.committed)
	return next, r.s.Write(b)
}

// countCalls runs the workload once without faults and returns how many
// times it calls each operation.
func countCalls(t *testing.T) map[vfs.Op]int {
	r := newFaultRun(t)
	defer r.s.Close()
	fi := &faultInjector{calls: map[vfs.Op]int{}}
	r.fs.SetInjector(fi.inject)
	for k := range faultWorkloadSteps {
		next, err := r.step(k)
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		r.committed = next
	}
	if st := r.s.Stats(); st.SegmentsRemoved == 0 || st.RewrittenBytes == 0 {
		t.Fatalf("the workload neither removes nor rewrites segments: %+v", st)
	}
	return fi.calls
}

// TestFaultInjection fails, one at a time, each call the workload makes
// of each file-system operation the store writes with. A failed write or
// fsync of the log, a failed rename or directory sync that makes a new
// segment, and a failed remove of a purged segment stop the store: the
// call returns an error wrapping ErrFailed and the cause; every later
// write, purge and read returns it; no fsync is ever tried again; and a
// crash and reopen find exactly what the acknowledged writes wrote. A
// failure while building a new segment under its temporary name (create,
// preallocate, its header's write or fsync) does not: the call fails, no
// temporary file is left behind, and the store carries on.
func TestFaultInjection(t *testing.T) {
	calls := countCalls(t)
	ops := []vfs.Op{vfs.OpWrite, vfs.OpSync, vfs.OpCreate, vfs.OpPreallocate, vfs.OpRename, vfs.OpSyncDir, vfs.OpRemove}
	for _, op := range ops {
		if calls[op] == 0 {
			t.Fatalf("the workload never calls %s", op)
		}
		t.Run(op.String(), func(t *testing.T) {
			t.Logf("%d calls of %s", calls[op], op)
			for n := 1; n <= calls[op]; n++ {
				faultAt(t, op, n)
			}
		})
	}
}

func faultAt(t *testing.T, op vfs.Op, n int) {
	t.Helper()
	r := newFaultRun(t)
	defer func() { r.s.Close() }()
	fi := &faultInjector{op: op, n: n, calls: map[vfs.Op]int{}}
	r.fs.SetInjector(fi.inject)
	where := func() string { return fmt.Sprintf("%s #%d failed (%s)", op, n, fi.name) }
	for k := range faultWorkloadSteps {
		before := fi.failed
		next, err := r.step(k)
		if err == nil {
			if fi.failed && !before {
				t.Fatalf("%s during step %d, which returned no error", where(), k)
			}
			r.committed = next
			continue
		}
		if !fi.failed || before {
			t.Fatalf("step %d: %v, with no fault injected in it", k, err)
		}
		if !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("%s: step %d: %v, want the cause vfs.ErrInjected wrapped", where(), k, err)
		}
		if fi.inCreate {
			r.survived(where(), err)
			continue
		}
		r.stopped(where(), err, fi)
		return
	}
	if !fi.failed {
		t.Fatalf("%s #%d never happened", op, n)
	}
	if err := diffStore(r.s, r.committed, r.batchGen.rng); err != nil {
		t.Fatalf("%s, then the workload went on: %v", where(), err)
	}
	r.crashAndCheck(where())
}

// survived checks the store after a failure while building a segment
// under its temporary name: the error is not fatal, nothing is left
// behind, and what was acknowledged reads as before.
func (r *faultRun) survived(where string, err error) {
	r.t.Helper()
	if errors.Is(err, ErrFailed) || r.s.Err() != nil {
		r.t.Fatalf("%s: the store stopped (%v; Err %v), but nothing of the log was touched", where, err, r.s.Err())
	}
	if tmps := tmpFiles(r.t, r.fs); len(tmps) > 0 {
		r.t.Fatalf("%s: temporary files left behind: %v", where, tmps)
	}
	if derr := diffStore(r.s, r.committed, r.batchGen.rng); derr != nil {
		r.t.Fatalf("%s: %v", where, derr)
	}
}

// stopped checks the store after a fatal failure, then crashes and
// reopens it.
func (r *faultRun) stopped(where string, err error, fi *faultInjector) {
	r.t.Helper()
	if !errors.Is(err, ErrFailed) {
		r.t.Fatalf("%s: %v, want ErrFailed", where, err)
	}
	stopErr := r.s.Err()
	if !errors.Is(stopErr, ErrFailed) || !errors.Is(stopErr, vfs.ErrInjected) {
		r.t.Fatalf("%s: Err() = %v, want ErrFailed wrapping the cause", where, stopErr)
	}
	same := func(call string, err error) {
		r.t.Helper()
		if !errors.Is(err, ErrFailed) || err.Error() != stopErr.Error() {
			r.t.Fatalf("%s: then %s: %v, want the error that stopped the store (%v)", where, call, err, stopErr)
		}
	}
	var b Batch
	b.SetHardState(1, consensus.HardState{Term: 1000})
	same("Write", r.s.Write(&b))
	same("Write", r.s.Write(&b))
	same("Purge", r.s.Purge())
	st := r.s.Storage(1)
	_, err = st.InitialState()
	same("InitialState", err)
	_, err = st.Snapshot()
	same("Snapshot", err)
	_, err = st.FirstIndex()
	same("FirstIndex", err)
	_, err = st.LastIndex()
	same("LastIndex", err)
	_, err = st.Term(1)
	same("Term", err)
	_, err = st.Entries(1, 2, 1<<20)
	same("Entries", err)
	fi.mu.Lock()
	syncs := fi.syncs
	fi.mu.Unlock()
	if syncs != 0 {
		r.t.Fatalf("%s: %d fsyncs after the failure; a failed fsync must never be retried", where, syncs)
	}
	r.crashAndCheck(where)
}

// crashAndCheck crashes, reopens without faults, and checks the store
// holds exactly what was acknowledged, then that it works.
func (r *faultRun) crashAndCheck(where string) {
	r.t.Helper()
	r.s.Close()
	r.fs = r.fs.Crash()
	r.opts.FS = r.fs
	s, err := Open(r.opts)
	if err != nil {
		r.t.Fatalf("%s: reopen after a crash: %v", where, err)
	}
	r.s = s
	if err := diffStore(s, r.committed, r.batchGen.rng); err != nil {
		r.t.Fatalf("%s: after a crash, the store is not what was acknowledged: %v", where, err)
	}
	for k := range 10 {
		next, err := r.step(k)
		if err != nil {
			r.t.Fatalf("%s: after a crash and reopen, step %d: %v", where, k, err)
		}
		r.committed = next
	}
	if err := diffStore(s, r.committed, r.batchGen.rng); err != nil {
		r.t.Fatalf("%s: after a crash, reopen and more writes: %v", where, err)
	}
}

// TestFaultOpenAfterFailureWithoutCrash reopens, without a crash, a store
// stopped by a failed rename, directory sync or remove: the failed call
// wrote nothing to the log, so the process restarting finds exactly what
// was acknowledged, and no temporary segment is left once it has opened.
func TestFaultOpenAfterFailureWithoutCrash(t *testing.T) {
	calls := countCalls(t)
	for _, op := range []vfs.Op{vfs.OpRename, vfs.OpSyncDir, vfs.OpRemove} {
		for n := 1; n <= calls[op]; n++ {
			r := newFaultRun(t)
			fi := &faultInjector{op: op, n: n, calls: map[vfs.Op]int{}}
			r.fs.SetInjector(fi.inject)
			for k := range faultWorkloadSteps {
				next, err := r.step(k)
				if err != nil {
					break
				}
				r.committed = next
			}
			where := fmt.Sprintf("%s #%d failed (%s)", op, n, fi.name)
			if !fi.failed || r.s.Err() == nil {
				t.Fatalf("%s: the store did not stop (Err %v)", where, r.s.Err())
			}
			r.s.Close()
			r.fs.SetInjector(nil)
			s, err := Open(r.opts)
			if err != nil {
				t.Fatalf("%s: reopen: %v", where, err)
			}
			if err := diffStore(s, r.committed, r.batchGen.rng); err != nil {
				t.Fatalf("%s: reopen: %v", where, err)
			}
			if tmps := tmpFiles(t, r.fs); len(tmps) > 0 {
				t.Fatalf("%s: temporary files left after reopen: %v", where, tmps)
			}
			s.Close()
		}
	}
}

// TestFaultDiskFull runs out of space when a new segment is preallocated:
// Write fails with ErrDiskFull wrapping ENOSPC, writes nothing, leaves no
// temporary file, and does not stop the store; once space is freed the
// writes go on, and a crash loses nothing acknowledged.
func TestFaultDiskFull(t *testing.T) {
	r := newFaultRun(t)
	defer func() { r.s.Close() }()
	for k := range 12 {
		next, err := r.step(k)
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		r.committed = next
	}
	var used int64
	for _, seg := range segmentFiles(t, r.fs) {
		data, _ := r.fs.ReadFile(seg)
		used += int64(len(data))
	}
	r.fs.SetCapacity(used + r.opts.SegmentBytes/2)
	full := 0
	for k := 12; k < 40 && full < 3; k++ {
		next, err := r.step(k)
		if err == nil {
			r.committed = next
			continue
		}
		full++
		if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("step %d on a full disk: %v, want ErrDiskFull wrapping ENOSPC", k, err)
		}
		if errors.Is(err, ErrFailed) || r.s.Err() != nil {
			t.Fatalf("step %d: a full disk stopped the store: %v (Err %v)", k, err, r.s.Err())
		}
		if tmps := tmpFiles(t, r.fs); len(tmps) > 0 {
			t.Fatalf("step %d: temporary files left behind: %v", k, tmps)
		}
		if err := diffStore(r.s, r.committed, r.batchGen.rng); err != nil {
			t.Fatalf("step %d, after a full disk: %v", k, err)
		}
	}
	if full == 0 {
		t.Fatalf("the disk never filled up")
	}
	r.fs.SetCapacity(0)
	for k := 40; k < 60; k++ {
		next, err := r.step(k)
		if err != nil {
			t.Fatalf("step %d, with space again: %v", k, err)
		}
		r.committed = next
	}
	if err := diffStore(r.s, r.committed, r.batchGen.rng); err != nil {
		t.Fatal(err)
	}
	r.crashAndCheck("a full disk, then space again")
}

// TestFaultTmpRemoveFails fails a new segment's preallocation and then
// the removal of its temporary file: two faults in one segment creation.
// Neither touched the log, so the store must not stop, and once the
// faults are gone it must be able to start a segment again rather than
// trip over the temporary file the failed creation left.
func TestFaultTmpRemoveFails(t *testing.T) {
	r := newFaultRun(t)
	defer func() { r.s.Close() }()
	var failing sync.Mutex
	armed := true
	r.fs.SetInjector(func(op vfs.Op, name string) error {
		failing.Lock()
		defer failing.Unlock()
		if armed && (op == vfs.OpPreallocate || op == vfs.OpRemove) {
			if op == vfs.OpRemove {
				armed = false
			}
			return vfs.ErrInjected
		}
		return nil
	})
	k, failed := 0, false
	for ; k < faultWorkloadSteps && !failed; k++ {
		next, err := r.step(k)
		if err == nil {
			r.committed = next
			continue
		}
		if errors.Is(err, ErrFailed) || r.s.Err() != nil {
			t.Fatalf("step %d: a failed segment creation stopped the store: %v", k, err)
		}
		failed = true
	}
	if !failed {
		t.Fatal("no segment creation failed")
	}
	r.fs.SetInjector(nil)
	for end := k + 20; k < end; k++ {
		next, err := r.step(k)
		if err != nil {
			t.Fatalf("step %d, the faults gone: %v (temporary files: %v)", k, err, tmpFiles(t, r.fs))
		}
		r.committed = next
	}
	if tmps := tmpFiles(t, r.fs); len(tmps) > 0 {
		t.Errorf("temporary files left behind: %v", tmps)
	}
	r.crashAndCheck("a failed preallocation and removal of its temporary file")
}

// TestFaultPersistentCreateFailure makes every segment creation fail for
// a while, as a directory that refuses new files would: the writes that
// fit in the active segment still succeed, those that need a new segment
// fail without stopping the store, and once creation works again the
// store carries on and a crash loses nothing acknowledged.
func TestFaultPersistentCreateFailure(t *testing.T) {
	r := newFaultRun(t)
	defer func() { r.s.Close() }()
	r.fs.SetInjector(vfs.FailMatching(vfs.OpCreate, ".wal"+tmpSuffix, nil))
	var ok, failed int
	for k := range faultWorkloadSteps {
		next, err := r.step(k)
		if err == nil {
			ok++
			r.committed = next
			continue
		}
		failed++
		if !errors.Is(err, vfs.ErrInjected) || errors.Is(err, ErrFailed) || r.s.Err() != nil {
			t.Fatalf("step %d, segments cannot be created: %v (Err %v), want the cause, and the store not stopped", k, err, r.s.Err())
		}
	}
	if ok == 0 || failed == 0 {
		t.Fatalf("%d steps succeeded and %d failed; want both", ok, failed)
	}
	if err := diffStore(r.s, r.committed, r.batchGen.rng); err != nil {
		t.Fatal(err)
	}
	r.fs.SetInjector(nil)
	r.crashAndCheck("segment creation failing for a while")
}

// TestFaultDuringRecovery fails, one at a time, each file-system call
// that Open makes on a log that has a torn tail to truncate and a
// temporary segment to remove. Open must return the error (wrapping the
// cause), never a half-open store, and leave the log so that the next
// Open, with or without a crash in between, finds what was acknowledged.
func TestFaultDuringRecovery(t *testing.T) {
	r := newFaultRun(t)
	for k := range 20 {
		next, err := r.step(k)
		if err != nil {
			t.Fatal(err)
		}
		r.committed = next
	}
	// A last write whose fsync fails: its bytes are in the file, not
	// synced. Keep the first half of them past a crash: a torn tail.
	synced := r.s.active.end
	newest := r.s.active.name
	b, _ := r.batchGen.batch(r.committed)
	r.fs.SetInjector(failLogSync())
	if err := r.s.Write(b); !errors.Is(err, ErrFailed) {
		t.Fatalf("Write with a failing fsync: %v", err)
	}
	data, err := r.fs.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	r.s.Close()
	recs := diskRecords(data)
	written := recs[len(recs)-1].off + recs[len(recs)-1].size
	base := r.fs.Crash()
	torn := append(append([]byte(nil), data[:synced+(written-synced)/2]...), make([]byte, int64(len(data))-synced-(written-synced)/2)...)
	if err := base.WriteFile(newest, torn); err != nil {
		t.Fatal(err)
	}
	if err := base.WriteFile(segmentName(walDir, 99)+tmpSuffix, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	// How many calls of each operation a clean Open makes.
	counter := &faultInjector{calls: map[vfs.Op]int{}}
	probe := base.Crash()
	probe.SetInjector(counter.inject)
	opts := r.opts
	opts.FS = probe
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("clean Open: %v", err)
	}
	if s.Stats().TornBytes == 0 {
		t.Fatalf("the log has no torn tail")
	}
	s.Close()
	t.Logf("a clean Open calls %v", counter.calls)
	for op, calls := range counter.calls {
		for n := 1; n <= calls; n++ {
			fs := base.Crash()
			fs.SetInjector(vfs.FailNth(op, n, nil))
			opts.FS = fs
			where := fmt.Sprintf("Open with %s #%d failing", op, n)
			s, err := Open(opts)
			if err == nil {
				// The call's error may be one Open can ignore (closing a
				// file); then the store must be whole.
				if derr := diffStore(s, r.committed, r.batchGen.rng); derr != nil {
					t.Fatalf("%s opened: %v", where, derr)
				}
				s.Close()
			} else if !errors.Is(err, vfs.ErrInjected) {
				t.Fatalf("%s: %v, want the cause wrapped", where, err)
			}
			fs.SetInjector(nil)
			for _, again := range []*vfs.MemFS{fs, fs.Crash()} {
				opts.FS = again
				s, err := Open(opts)
				if err != nil {
					t.Fatalf("%s, then Open again: %v", where, err)
				}
				if err := diffStore(s, r.committed, r.batchGen.rng); err != nil {
					t.Fatalf("%s, then Open again: %v", where, err)
				}
				if tmps := tmpFiles(t, again); len(tmps) > 0 {
					t.Fatalf("%s, then Open again: %v left", where, tmps)
				}
				s.Close()
			}
		}
	}
}
