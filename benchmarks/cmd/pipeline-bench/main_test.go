package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestRunPrintsOneSaneLine runs the whole command for about a second on
// three real hosts: a smoke test of the wiring, not a measurement.
func TestRunPrintsOneSaneLine(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"-dir", t.TempDir(), "-clients", "4", "-groups", "2", "-payload", "16",
		"-duration", "1s", "-warmup", "200ms"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("stdout is not one line: %q", out.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if len(m) != 11 {
		t.Errorf("%d fields, want the peers' 11: %s", len(m), out.String())
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.System != "raftpipe" || r.Payload != 16 || r.Clients != 4 || r.Groups != 2 {
		t.Errorf("echoed flags wrong: %+v", r)
	}
	if r.OpsPerSec <= 0 || r.MBPerSec <= 0 {
		t.Errorf("no throughput: %+v", r)
	}
	if r.P50us <= 0 || r.P99us < r.P50us || r.P999us < r.P99us {
		t.Errorf("percentiles not ordered: p50 %v p99 %v p999 %v", r.P50us, r.P99us, r.P999us)
	}
	// Below 1 is possible: a write that only moves a hard state (the
	// commit index) is synced too, with no entry in it.
	if r.EntriesPerFsync <= 0 {
		t.Errorf("entries_per_fsync %v, want some", r.EntriesPerFsync)
	}
	if r.CPUSeconds <= 0 {
		t.Errorf("cpu_seconds %v", r.CPUSeconds)
	}
	t.Logf("%s%s", errb.String(), out.String())
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-payload", "0"}, {"-clients", "0"}, {"-groups", "0"}, {"-duration", "0s"}, {"extra"}, {"-nope"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q", args, out.String())
		}
	}
}
