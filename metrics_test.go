package raftpipe

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/metrics"
)

// scraped is one scrape of a collector, by family name.
type scraped map[string]*dto.MetricFamily

// scrapeMetrics gathers c once through a pedantic registry, which checks
// every metric against its description, and lints the result as
// testutil.CollectAndLint does, keeping the families for the assertions
// (CollectAndLint returns only the problems).
func scrapeMetrics(t *testing.T, c prometheus.Collector) scraped {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	out := scraped{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// get returns the value of the series of name with the given labels
// (name, value, ...): a counter's or gauge's value, a histogram's count.
// It is -1 when there is no such series.
func (s scraped) get(name string, labels ...string) float64 {
	for _, m := range s[name].GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && have[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// sum returns a histogram's sum, or -1.
func (s scraped) sum(name string, labels ...string) float64 {
	for _, m := range s[name].GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}
			match = match && found
		}
		if match && m.Histogram != nil {
			return m.Histogram.GetSampleSum()
		}
	}
	return -1
}

// series counts the series whose name starts with prefix.
func (s scraped) series(prefix string) int {
	n := 0
	for name, mf := range s {
		if strings.HasPrefix(name, prefix) {
			n += len(mf.GetMetric())
		}
	}
	return n
}

// grew checks that the series went up by at least least between two
// scrapes.
func grew(t *testing.T, before, after scraped, least float64, name string, labels ...string) {
	t.Helper()
	b, a := before.get(name, labels...), after.get(name, labels...)
	if a < 0 {
		t.Errorf("%s%v is not exported", name, labels)
		return
	}
	if a-max(b, 0) < least {
		t.Errorf("%s%v went from %g to %g, want a rise of at least %g", name, labels, b, a, least)
	}
}

func want(t *testing.T, s scraped, value float64, name string, labels ...string) {
	t.Helper()
	if got := s.get(name, labels...); got != value {
		t.Errorf("%s%v = %g, want %g", name, labels, got, value)
	}
}

// A lone voter's metrics follow what it does: writes go through every
// stage and the log, each read is counted by its mode and by how it was
// proven fresh, and its one group is listed with its state.
func TestMetricsFollowWritesAndReads(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	c.leader(1)
	h := c.hosts[0]
	col := h.Collector(metrics.Options{})
	before := scrapeMetrics(t, col)

	const writes = 20
	for i := range writes {
		c.put(1, fmt.Sprintf("k%d", i), "v")
	}
	for _, mode := range []ReadMode{Linearizable, ReadIndexOnly, FollowerRead, Stale} {
		if _, err := c.get(0, 1, "k0", mode); err != nil {
			t.Fatalf("%v read: %v", mode, err)
		}
	}
	// A lone voter holds a lease once it has committed in its term.
	if !waitFor(func() bool { _, err := c.get(0, 1, "k0", LeaseOnly); return err == nil }, 10*time.Second) {
		t.Fatal("no lease read succeeded")
	}
	// The apply stage counts a drain after completing its callers: wait
	// for the last one to be counted.
	var after scraped
	if !waitFor(func() bool {
		after = scrapeMetrics(t, col)
		return after.get("raftpipe_stage_items_total", "stage", "apply")-before.get("raftpipe_stage_items_total", "stage", "apply") >= writes
	}, 10*time.Second) {
		t.Fatalf("apply items went from %g to %g, want a rise of %d", before.get("raftpipe_stage_items_total", "stage", "apply"), after.get("raftpipe_stage_items_total", "stage", "apply"), writes)
	}

	for _, stage := range []string{"batch", "fsync", "apply"} {
		grew(t, before, after, writes, "raftpipe_stage_items_total", "stage", stage)
		grew(t, before, after, 1, "raftpipe_stage_batch_size", "stage", stage)
		grew(t, before, after, 1, "raftpipe_stage_batch_duration_seconds", "stage", stage)
	}
	grew(t, before, after, 1, "raftpipe_stage_items_total", "stage", "step", "worker", "1") // group 1's worker
	want(t, after, float64(DefaultConfig().ProposeQueue), "raftpipe_stage_queue_capacity", "stage", "batch")
	// Each histogram's sum is the exact total the stage keeps.
	if s, n := after.sum("raftpipe_stage_batch_size", "stage", "apply"), after.get("raftpipe_stage_items_total", "stage", "apply"); s != n {
		t.Errorf("apply batch sizes sum to %g, items total %g", s, n)
	}

	grew(t, before, after, 1, "raftpipe_wal_fsync_duration_seconds")
	grew(t, before, after, writes, "raftpipe_wal_entries_total")
	grew(t, before, after, writes*4, "raftpipe_wal_written_bytes_total")
	grew(t, before, after, 1, "raftpipe_wal_entries_per_fsync")
	if s, n := after.sum("raftpipe_wal_entries_per_fsync"), after.get("raftpipe_wal_entries_total"); s != n {
		t.Errorf("entries per fsync sum to %g, entries total %g", s, n)
	}
	if after.get("raftpipe_wal_segments") < 1 || after.get("raftpipe_wal_live_bytes") <= 0 {
		t.Errorf("segments %g, live bytes %g: want some", after.get("raftpipe_wal_segments"), after.get("raftpipe_wal_live_bytes"))
	}

	grew(t, before, after, 1, "raftpipe_reads_total", "mode", "linearizable")
	grew(t, before, after, 1, "raftpipe_reads_total", "mode", "read_index")
	grew(t, before, after, 1, "raftpipe_reads_total", "mode", "follower")
	grew(t, before, after, 1, "raftpipe_reads_total", "mode", "stale")
	grew(t, before, after, 1, "raftpipe_reads_total", "mode", "lease")
	grew(t, before, after, 1, "raftpipe_read_lease_hits_total")
	grew(t, before, after, 2, "raftpipe_read_index_reads_total") // read-index and follower
	grew(t, before, after, 1, "raftpipe_read_index_rounds_total")

	want(t, after, 1, "raftpipe_groups")
	want(t, after, 1, "raftpipe_groups_led")
	want(t, after, 0, "raftpipe_groups_leaderless")
	if after.get("raftpipe_elections_started_total") < 1 || after.get("raftpipe_leader_changes_seen_total") < 1 {
		t.Errorf("elections %g, leader changes %g: the lone voter elected itself once at least",
			after.get("raftpipe_elections_started_total"), after.get("raftpipe_leader_changes_seen_total"))
	}
	want(t, after, 1, "raftpipe_group_role", "group", "1", "role", "leader")
	want(t, after, 0, "raftpipe_group_role", "group", "1", "role", "follower")
	want(t, after, 1, "raftpipe_group_leader_id", "group", "1")
	if after.get("raftpipe_group_term", "group", "1") < 1 || after.get("raftpipe_group_commit_index", "group", "1") < writes ||
		after.get("raftpipe_group_applied_index", "group", "1") < writes {
		t.Errorf("group 1: term %g, commit %g, applied %g", after.get("raftpipe_group_term", "group", "1"),
			after.get("raftpipe_group_commit_index", "group", "1"), after.get("raftpipe_group_applied_index", "group", "1"))
	}
	for _, kind := range []string{"dial", "cluster_mismatch", "tls_handshake"} {
		want(t, after, 0, "raftpipe_transport_errors_total", "kind", kind)
	}
}

// In a cluster, a proposal at a follower is counted as refused there, and
// a leader transfer is an election on the new leader and a leader change
// on every host; traffic between hosts shows in the transport's counters.
func TestMetricsSeeLeaderChangesAndRefusals(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	c.put(1, "a", "1")
	old := c.leader(1)
	next := (old + 1) % 3
	cols := make([]prometheus.Collector, 3)
	before := make([]scraped, 3)
	for i, h := range c.hosts {
		cols[i] = h.Collector(metrics.Options{})
		before[i] = scrapeMetrics(t, cols[i])
	}

	if _, err := c.hosts[next].Propose(t.Context(), 1, fsm.EncodePut(nil, []byte("b"), []byte("2"))); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("proposal at a follower: %v, want ErrNotLeader", err)
	}
	grew(t, before[next], scrapeMetrics(t, cols[next]), 1, "raftpipe_proposals_refused_total", "reason", "not_leader")

	nextID := c.hosts[next].NodeID()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.onLeader(1, func(h *Host) error { return h.TransferLeader(t.Context(), 1, nextID) })
		if waitFor(func() bool { st, _ := c.hosts[next].Status(1); return st.Role == Leader }, 2*time.Second) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leadership never moved")
		}
	}
	// The others learn of the new leader with its first append.
	c.put(1, "c", "3")
	for i := range c.hosts {
		if !waitFor(func() bool { st, _ := c.hosts[i].Status(1); return st.Leader == nextID }, 10*time.Second) {
			t.Fatalf("host %d never learnt of the new leader", i+1)
		}
	}

	after := make([]scraped, 3)
	for i := range c.hosts {
		after[i] = scrapeMetrics(t, cols[i])
		grew(t, before[i], after[i], 1, "raftpipe_leader_changes_seen_total")
		want(t, after[i], float64(nextID), "raftpipe_group_leader_id", "group", "1")
		grew(t, before[i], after[i], 1, "raftpipe_transport_messages_total", "direction", "received")
		grew(t, before[i], after[i], 1, "raftpipe_transport_bytes_total", "direction", "sent")
	}
	grew(t, before[next], after[next], 1, "raftpipe_elections_started_total")
	want(t, after[next], 1, "raftpipe_groups_led")
	want(t, after[next], 1, "raftpipe_group_role", "group", "1", "role", "leader")
	want(t, after[old], 0, "raftpipe_groups_led")
	want(t, after[old], 1, "raftpipe_group_role", "group", "1", "role", "follower")
	if after[old].get("raftpipe_transport_connects_total") < 1 {
		t.Errorf("host %d connected to no peer", old+1)
	}
}

// Per-group series exist only while the host runs few groups; the
// host-wide figures always do.
func TestMetricsGroupSeriesBounded(t *testing.T) {
	c := newCluster(t, 1, 3, nil)
	for g := uint64(1); g <= 3; g++ {
		c.leader(g)
	}
	h := c.hosts[0]
	few := scrapeMetrics(t, h.Collector(metrics.Options{GroupSeriesMax: 3}))
	many := scrapeMetrics(t, h.Collector(metrics.Options{GroupSeriesMax: 2}))
	if n := few.series("raftpipe_group_"); n != 3*8 {
		t.Errorf("3 groups under a bound of 3: %d per-group series, want 24 (term, leader, commit, applied, 4 roles)", n)
	}
	if n := many.series("raftpipe_group_"); n != 0 {
		t.Errorf("3 groups over a bound of 2: %d per-group series, want none", n)
	}
	for _, s := range []scraped{few, many} {
		want(t, s, 3, "raftpipe_groups")
		want(t, s, 3, "raftpipe_groups_led")
	}
}

// Snapshots show on both ends of a catch-up: the leader takes them and
// streams one, the follower that was down receives and installs it.
func TestMetricsCountSnapshots(t *testing.T) {
	tune := func(_ int, cfg *Config, _ *hostOptions) { cfg.SnapshotEntries, cfg.SnapshotTailEntries = 50, 10 }
	c := newCluster(t, 3, 1, tune, func(m *fsm.MemKV) fsm.StateMachine { return syncedKV{m} })
	c.put(1, "first", "1")
	down := (c.leader(1) + 1) % 3
	c.stop(down)
	for i := range 200 {
		c.put(1, fmt.Sprintf("k%03d", i), "v")
	}
	ld := c.leader(1)
	c.writeUntilCompacted(ld, 150)
	c.restart(down)
	c.waitValue(down, 1, "k199", "v")

	leader := c.hosts[ld].Collector(metrics.Options{})
	follower := c.hosts[down].Collector(metrics.Options{})
	var l, f scraped
	ok := waitFor(func() bool {
		l, f = scrapeMetrics(t, leader), scrapeMetrics(t, follower)
		return l.get("raftpipe_snapshots_total", "op", "send") >= 1 && f.get("raftpipe_snapshots_total", "op", "install") >= 1
	}, 10*time.Second)
	if !ok {
		t.Fatalf("leader sent %g snapshots, follower installed %g", l.get("raftpipe_snapshots_total", "op", "send"), f.get("raftpipe_snapshots_total", "op", "install"))
	}
	if l.get("raftpipe_snapshots_total", "op", "take") < 1 || l.get("raftpipe_snapshot_duration_seconds", "op", "take") < 1 {
		t.Errorf("leader took %g snapshots, timed %g", l.get("raftpipe_snapshots_total", "op", "take"), l.get("raftpipe_snapshot_duration_seconds", "op", "take"))
	}
	if l.get("raftpipe_transport_snapshot_streams_total", "direction", "sent") < 1 || l.get("raftpipe_transport_snapshot_bytes_total", "direction", "sent") <= 0 {
		t.Error("the leader's transport streamed no snapshot")
	}
	for _, op := range []string{"receive", "install"} {
		if f.get("raftpipe_snapshots_total", "op", op) < 1 || f.get("raftpipe_snapshot_duration_seconds", "op", op) < 1 {
			t.Errorf("follower %s: %g, timed %g", op, f.get("raftpipe_snapshots_total", "op", op), f.get("raftpipe_snapshot_duration_seconds", "op", op))
		}
		want(t, f, 0, "raftpipe_snapshot_failures_total", "op", op)
	}
}

// RegisterMetrics puts a host beside the runtime and process collectors
// of metrics.NewRegistry; hosts sharing a registry need labels of their
// own.
func TestMetricsRegisterBesideRuntime(t *testing.T) {
	c := newCluster(t, 2, 1, nil)
	c.leader(1)
	reg := metrics.NewRegistry()
	if err := c.hosts[0].RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := c.hosts[1].RegisterMetrics(reg); err == nil {
		t.Fatal("two hosts registered without labels of their own: their series would clash")
	}
	if n := gatherCount(t, reg, "go_goroutines"); n != 1 {
		t.Errorf("go_goroutines has %d series, want 1", n)
	}

	shared := metrics.NewRegistry()
	for _, h := range c.hosts {
		labels := prometheus.Labels{"node": fmt.Sprint(h.NodeID())}
		if err := shared.Register(h.Collector(metrics.Options{ConstLabels: labels})); err != nil {
			t.Fatal(err)
		}
	}
	if n := gatherCount(t, shared, "raftpipe_groups"); n != 2 {
		t.Errorf("raftpipe_groups has %d series, want one per host", n)
	}
}

// gatherCount is the number of series of name in g.
func gatherCount(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}
