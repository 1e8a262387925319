package kv

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/raftpipe/raftpipe/fsm"
)

func memOptions(fs vfs.FS) Options {
	return Options{Dir: "db", FS: fs, Logger: slog.New(slog.DiscardHandler), MemTableBytes: 1 << 20}
}

func openStore(t *testing.T, fs vfs.FS) *Store {
	t.Helper()
	s, err := Open(memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func machine(t *testing.T, s *Store, group uint64) *Machine {
	t.Helper()
	m, err := s.Machine(group)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// apply updates m with cmds as the entries after its applied index and
// commits, as the apply stage does; it returns the results.
func apply(t *testing.T, m *Machine, cmds ...[]byte) [][]byte {
	t.Helper()
	ents := make([]fsm.Entry, len(cmds))
	for i, c := range cmds {
		ents[i] = fsm.Entry{Index: m.pendingApplied + 1 + uint64(i), Cmd: c}
	}
	if err := m.Update(ents); err != nil {
		t.Fatal(err)
	}
	if err := m.Store().Commit(); err != nil {
		t.Fatal(err)
	}
	res := make([][]byte, len(ents))
	for i := range ents {
		res[i] = ents[i].Result
	}
	return res
}

func get(t *testing.T, m *Machine, key string) (string, bool) {
	t.Helper()
	v, err := m.Lookup(EncodeGet(nil, []byte(key)))
	if errors.Is(err, fsm.ErrNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(v), true
}

// Every command does what it says and answers with its status; a command
// that cannot be decoded is a result, never an error, and changes nothing.
func TestMachineCommands(t *testing.T) {
	s := openStore(t, vfs.NewMem())
	m := machine(t, s, 7)
	res := apply(t, m,
		EncodePut(nil, []byte("a"), []byte("1")),
		EncodeDelete(nil, []byte("missing")),
		EncodeCAS(nil, []byte("a"), []byte("1"), []byte("2")),
		EncodeCAS(nil, []byte("a"), []byte("1"), []byte("3")),
		EncodeCAS(nil, []byte("b"), nil, []byte("new")),
		EncodeCAS(nil, []byte("b"), []byte("new"), nil),
		EncodeBatch(nil, EncodePut(nil, []byte("c"), []byte("x")), EncodeDelete(nil, []byte("c")), EncodePut(nil, []byte("d"), nil)),
		[]byte{99},
		EncodeDelete(nil, []byte("a")),
	)
	want := [][]byte{
		{StatusOK},
		{StatusOK, 0},
		{StatusOK},
		append([]byte{StatusCompareFailed, 1}, "2"...),
		{StatusOK},
		{StatusOK},
		{StatusOK, 1, StatusOK, 2, StatusOK, 1, 1, StatusOK},
		nil, // checked below
		{StatusOK, 1},
	}
	for i, w := range want {
		if w != nil && string(res[i]) != string(w) {
			t.Errorf("command %d: result %v, want %v", i, res[i], w)
		}
	}
	if res[7][0] != StatusBadCommand {
		t.Errorf("unknown opcode: result %q, want a bad-command status", res[7])
	}
	for k, want := range map[string]string{"a": "", "b": "", "c": "", "d": ""} {
		v, ok := get(t, m, k)
		if k == "d" {
			if !ok || v != "" {
				t.Errorf("d = %q, %v: want the empty value", v, ok)
			}
			continue
		}
		if ok {
			t.Errorf("%s = %q, want %q absent", k, v, want)
		}
	}
	if m.Applied() != 9 {
		t.Fatalf("applied %d, want 9", m.Applied())
	}
}

// A scan returns a group's keys in order within its bounds, never another
// group's, and says when the range holds more than the limit.
func TestMachineScanStaysInItsGroup(t *testing.T) {
	s := openStore(t, vfs.NewMem())
	a, b := machine(t, s, 1), machine(t, s, 2)
	for i := range 10 {
		apply(t, a, EncodePut(nil, fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "a%d", i)))
		apply(t, b, EncodePut(nil, fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "b%d", i)))
	}
	res, err := a.Lookup(EncodeScan(nil, []byte("k03"), []byte("k08"), 3))
	if err != nil {
		t.Fatal(err)
	}
	pairs, more, err := DecodeScanResult(res)
	if err != nil {
		t.Fatal(err)
	}
	if !more || len(pairs) != 3 || string(pairs[0].Key) != "k03" || string(pairs[2].Value) != "a5" {
		t.Fatalf("scan [k03, k08) limit 3: %q more=%v", pairs, more)
	}
	res, _ = b.Lookup(EncodeScan(nil, nil, nil, 100))
	pairs, more, _ = DecodeScanResult(res)
	if more || len(pairs) != 10 || string(pairs[9].Value) != "b9" {
		t.Fatalf("full scan of group 2: %d pairs, more=%v", len(pairs), more)
	}
}

// Updates take effect at Commit, for every group of the store at once:
// before it, Lookup and Applied show the state as it was.
func TestStoreCommitMakesUpdatesVisible(t *testing.T) {
	s := openStore(t, vfs.NewMem())
	a, b := machine(t, s, 1), machine(t, s, 2)
	if err := a.Update([]fsm.Entry{{Index: 1, Cmd: EncodePut(nil, []byte("k"), []byte("v"))}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Update([]fsm.Entry{{Index: 1}, {Index: 2, Cmd: EncodePut(nil, []byte("k"), []byte("w"))}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, a, "k"); ok || a.Applied() != 0 || b.Applied() != 0 {
		t.Fatal("updates visible before the commit")
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, _ := get(t, b, "k"); v != "w" || a.Applied() != 1 || b.Applied() != 2 {
		t.Fatalf("after the commit: b k=%q, applied %d and %d", v, a.Applied(), b.Applied())
	}
	if err := a.Update([]fsm.Entry{{Index: 3}}); !errors.Is(err, fsm.ErrOutOfOrder) {
		t.Fatalf("a gap: %v, want ErrOutOfOrder", err)
	}
	// Entries without a command (a new leader's no-op) write no key, but
	// are applied all the same, durably.
	if err := a.Update([]fsm.Entry{{Index: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if a.Applied() != 2 {
		t.Fatalf("a no-op entry committed alone: applied %d, want 2", a.Applied())
	}
	if got, err := s.readApplied(1); err != nil || got != 2 {
		t.Fatalf("the stored applied index after a no-op: %d, %v", got, err)
	}
}

// Pebble runs without a WAL: a crash loses what was not flushed, data and
// applied index together, so the state is always the one of some applied
// index, which the host replays the Raft log from. After Flush, nothing
// committed is lost.
func TestCrashKeepsDataAndAppliedIndexTogether(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s, err := Open(memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	m := machine(t, s, 3)
	apply(t, m, EncodePut(nil, []byte("a"), []byte("1")), EncodePut(nil, []byte("b"), []byte("2")))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	apply(t, m, EncodePut(nil, []byte("a"), []byte("changed")), EncodePut(nil, []byte("c"), []byte("3")))
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	s.Close()

	s2 := openStore(t, crashed)
	m2 := machine(t, s2, 3)
	if m2.Applied() != 2 {
		t.Fatalf("after the crash: applied %d, want 2, the flushed index", m2.Applied())
	}
	if v, _ := get(t, m2, "a"); v != "1" {
		t.Fatalf("after the crash: a=%q, want the value as of index 2", v)
	}
	if _, ok := get(t, m2, "c"); ok {
		t.Fatal("after the crash: c, written after index 2, is there")
	}
	// The host replays entries 3 and 4 from its log.
	apply(t, m2, EncodePut(nil, []byte("a"), []byte("changed")), EncodePut(nil, []byte("c"), []byte("3")))
	if v, _ := get(t, m2, "a"); v != "changed" || m2.Applied() != 4 {
		t.Fatalf("after the replay: a=%q applied %d", v, m2.Applied())
	}
}

// One machine per group at a time; closing it frees the group.
func TestStoreOneMachinePerGroup(t *testing.T) {
	s := openStore(t, vfs.NewMem())
	m := machine(t, s, 1)
	if _, err := s.Machine(1); err == nil {
		t.Fatal("a second machine for group 1 opened")
	}
	m.Close()
	machine(t, s, 1)
}

// A clean Close flushes: the next start finds every committed entry, and
// the host has no log to replay.
func TestCloseFlushes(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s, err := Open(memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	m := machine(t, s, 1)
	apply(t, m, EncodePut(nil, []byte("a"), []byte("1")), EncodePut(nil, []byte("b"), []byte("2")))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Its machines refuse work once the store is closed, with an error
	// rather than a panic on a closed batch.
	if err := m.Update([]fsm.Entry{{Index: 3, Cmd: EncodePut(nil, []byte("c"), nil)}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after the store closed: %v, want ErrClosed", err)
	}
	s2 := openStore(t, fs.CrashClone(vfs.CrashCloneCfg{}))
	if m2 := machine(t, s2, 1); m2.Applied() != 2 {
		t.Fatalf("applied %d after a clean close, want 2", m2.Applied())
	}
}

// entryOf is cmd as the entry after m's last.
func entryOf(m *Machine, cmd []byte) []fsm.Entry {
	return []fsm.Entry{{Index: m.pendingApplied + 1, Cmd: cmd}}
}
