package workload

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fake is a System whose writes take about 100µs, with one retried attempt
// in every 10 and one given-up write in every 100.
type fake struct {
	groups  []atomic.Uint64
	calls   atomic.Uint64
	entries atomic.Uint64
	syncs   atomic.Uint64
}

func (f *fake) Propose(g int, payload []byte) (int, error) {
	n := f.calls.Add(1)
	time.Sleep(100 * time.Microsecond)
	if n%100 == 0 {
		return 1, errors.New("given up")
	}
	f.groups[g].Add(1)
	f.entries.Add(3)
	if n%2 == 0 {
		f.syncs.Add(3)
	}
	if n%10 == 0 {
		return 1, nil
	}
	return 0, nil
}

func (f *fake) SyncStats() (uint64, uint64, bool) {
	return f.entries.Load(), f.syncs.Load(), true
}

func TestRunCountsAndJSON(t *testing.T) {
	f := &fake{groups: make([]atomic.Uint64, 3)}
	cfg := Config{Payload: 100, Clients: 7, Groups: 3, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond}
	r, st, err := Run("fake", f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ops == 0 || st.TotalOps < st.Ops {
		t.Fatalf("ops %d, total %d", st.Ops, st.TotalOps)
	}
	if st.Errors == 0 || st.Retries == 0 {
		t.Fatalf("errors %d, retries %d: want both counted", st.Errors, st.Retries)
	}
	var applied uint64
	for i := range f.groups {
		if f.groups[i].Load() == 0 {
			t.Errorf("group %d got no write", i)
		}
		applied += f.groups[i].Load()
	}
	if applied != st.TotalOps {
		t.Errorf("system applied %d, driver counted %d", applied, st.TotalOps)
	}
	wantOps := float64(st.Ops) / st.Window.Seconds()
	if d := r.OpsPerSec - wantOps; d > 1 || d < -1 {
		t.Errorf("ops_per_sec %v, want %v", r.OpsPerSec, wantOps)
	}
	if r.P50us < 100 || r.P99us < r.P50us || r.P999us < r.P99us {
		t.Errorf("percentiles %v %v %v", r.P50us, r.P99us, r.P999us)
	}
	if r.EntriesPerFsync < 1.5 || r.EntriesPerFsync > 2.5 {
		t.Errorf("entries_per_fsync %v, want about 2", r.EntriesPerFsync)
	}
	if r.CPUSeconds < 0 {
		t.Errorf("cpu_seconds %v", r.CPUSeconds)
	}

	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("not one line: %q", line)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"system", "payload", "clients", "groups", "ops_per_sec", "p50_us", "p99_us",
		"p999_us", "mb_per_sec", "entries_per_fsync", "cpu_seconds"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, line)
		}
	}
	if len(m) != 11 {
		t.Errorf("JSON has %d fields, want 11: %s", len(m), line)
	}
}

func TestPercentile(t *testing.T) {
	var s []int64
	for i := int64(1); i <= 1000; i++ {
		s = append(s, i)
	}
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0.0001, 1}} {
		if got := Percentile(s, c.q); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := Percentile(nil, 0.5); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := Percentile([]int64{7}, 0.999); got != 7 {
		t.Errorf("one sample: %v", got)
	}
}

func TestMainFlags(t *testing.T) {
	start := func(string, int) (System, func() error, error) {
		t.Fatal("started despite bad flags")
		return nil, nil, nil
	}
	var out, errb bytes.Buffer
	if code := Main("x", 1, start, []string{"-groups", "2"}, &out, &errb); code != 2 {
		t.Errorf("-groups 2 on a single-group system: exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "single Raft group") {
		t.Errorf("stderr %q", errb.String())
	}
	if code := Main("x", 0, start, []string{"-payload", "0"}, &out, &errb); code != 2 {
		t.Errorf("-payload 0: exit %d, want 2", code)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q", out.String())
	}
}

func TestMainRuns(t *testing.T) {
	dir := t.TempDir()
	var gotDir string
	stopped := false
	start := func(d string, groups int) (System, func() error, error) {
		gotDir = d
		return &fake{groups: make([]atomic.Uint64, groups)}, func() error { stopped = true; return nil }, nil
	}
	var out, errb bytes.Buffer
	args := []string{"-dir", dir, "-clients", "3", "-groups", "2", "-payload", "8", "-duration", "100ms", "-warmup", "10ms"}
	if code := Main("x", 0, start, args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if gotDir != dir || !stopped {
		t.Errorf("dir %q, stopped %v", gotDir, stopped)
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if r.System != "x" || r.Clients != 3 || r.Groups != 2 || r.Payload != 8 || r.OpsPerSec <= 0 {
		t.Errorf("result %+v", r)
	}
}

func TestWaitConverged(t *testing.T) {
	n := 0
	applied := func() [][]uint64 {
		n++
		if n < 3 {
			return [][]uint64{{5, 4, 5}, {2, 2, 2}}
		}
		return [][]uint64{{5, 5, 5}, {2, 2, 2}}
	}
	if _, err := WaitConverged(applied, 7, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitConverged(applied, 8, 50*time.Millisecond); err == nil {
		t.Fatal("converged below the acknowledged writes")
	}
}
