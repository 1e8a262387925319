//go:build unix

package kv

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/logstore"
)

// crashDirEnv, when set, makes TestCrashChild the crashing host: it writes
// into that folder and kills itself.
const crashDirEnv = "RAFTPIPE_KV_CRASH_DIR"

const (
	crashFlushedAt = 2000 // keys written before the child flushes Pebble
	crashKeys      = 4000 // keys written before it dies
)

// TestCrashChild is the process TestCrashReplaysOnlyTheUnflushedTail kills:
// it writes crashFlushedAt keys, flushes Pebble and records the applied
// index, writes the rest, records the last acknowledged index, and sends
// itself SIGKILL with Pebble's memtable unflushed (there is no Pebble WAL).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrashReplaysOnlyTheUnflushedTail")
	}
	p := startPebbleHost(t, dir, 1)
	record := func(name string, index uint64) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.FormatUint(index, 10)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range crashKeys {
		if i == crashFlushedAt {
			if err := p.store.Flush(); err != nil {
				t.Fatal(err)
			}
			st, err := p.h.Status(1)
			if err != nil {
				t.Fatal(err)
			}
			record("flushed", st.Applied)
		}
		p.propose(t, 1, EncodePut(nil, fmt.Appendf(nil, "k%05d", i), fmt.Appendf(nil, "v%d", i)))
	}
	st, err := p.h.Status(1)
	if err != nil {
		t.Fatal(err)
	}
	record("acked", st.Applied)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught
}

// A host killed with entries applied to Pebble's memtable but never
// flushed restarts with its Pebble state at the last flush, replays only
// the log after it (not the whole log), and then holds every acknowledged
// write: the Raft log, not Pebble's WAL, makes applied entries durable.
func TestCrashReplaysOnlyTheUnflushedTail(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child did not die by SIGKILL (%v):\n%s", err, out)
	}
	read := func(name string) uint64 {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	flushed, acked := read("flushed"), read("acked")

	store, err := Open(Options{Dir: filepath.Join(dir, "kv"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.Machine(1)
	if err != nil {
		t.Fatal(err)
	}
	onDisk := m.Applied()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if onDisk < flushed || onDisk >= acked {
		t.Fatalf("Pebble's applied index after the crash is %d; want at least the flush's %d and below the %d acknowledged (else the crash lost nothing and replays nothing)", onDisk, flushed, acked)
	}
	// The log may hold a little more than the child saw applied (its
	// status is published just after the callers are answered): the
	// restart replays to the log's end.
	wal, err := logstore.Open(logstore.Options{Dir: filepath.Join(dir, "wal")})
	if err != nil {
		t.Fatal(err)
	}
	last := wal.GroupStats(1).Last
	wal.Close()
	if last < acked {
		t.Fatalf("the log ends at %d, before the %d acknowledged", last, acked)
	}

	start := time.Now()
	p := startPebbleHost(t, dir, 1)
	defer p.stop(t)
	for _, i := range []int{0, crashFlushedAt - 1, crashFlushedAt, crashKeys - 1} {
		key := fmt.Appendf(nil, "k%05d", i)
		v, err := p.h.Read(t.Context(), 1, EncodeGet(nil, key), raftpipe.Linearizable)
		for err != nil && time.Since(start) < 20*time.Second { // the lone voter elects itself first
			<-time.After(5 * time.Millisecond)
			v, err = p.h.Read(t.Context(), 1, EncodeGet(nil, key), raftpipe.Linearizable)
		}
		if err != nil || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("after the crash: %s = %q, %v", key, v, err)
		}
	}
	replayed := p.h.Stats().Stages.Apply.Items
	tail := last - onDisk
	// The tail, plus the new term's no-op.
	if replayed != tail+1 {
		t.Fatalf("the restart applied %d entries; want the %d after Pebble's applied index %d (the log ends at %d), plus the no-op", replayed, tail, onDisk, last)
	}
	t.Logf("Pebble held %d of %d applied entries after the crash; the restart replayed %d and served reads after %s", onDisk, acked, replayed, time.Since(start).Round(time.Millisecond))
}
