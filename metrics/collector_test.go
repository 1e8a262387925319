package metrics

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

var printMarkdown = flag.Bool("markdown", false, "print the list of metrics as a Markdown table")

// scrape registers c in a pedantic registry (which checks every metric
// against its description), gathers it once and lints the result as
// testutil.CollectAndLint does, keeping the families for the assertions
// (CollectAndLint returns only the problems).
func scrape(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
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
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// find returns the series of name whose labels include every pair of
// labels (name, value, name, value...).
func find(mfs map[string]*dto.MetricFamily, name string, labels ...string) (*dto.Metric, bool) {
	mf, ok := mfs[name]
	if !ok {
		return nil, false
	}
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if match {
			return m, true
		}
	}
	return nil, false
}

// value is a counter's or gauge's value, or a histogram's count.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	m, ok := find(mfs, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("series %s%v has no value", name, labels)
	return 0
}

// fullSample sets every figure, each to a value of its own.
func fullSample(groups int) Sample {
	n := uint64(0)
	next := func() uint64 { n++; return n }
	log2 := func(unit float64) Log2 {
		return Log2{Counts: []uint64{next(), next(), 0, next()}, Unit: unit, Sum: float64(next())}
	}
	s := Sample{
		Stages: []Stage{
			{Name: StageBatch, QueueDepth: 3, QueueCapacity: 4096, Items: next(), BatchSizes: log2(1), BatchDurations: log2(1e-6)},
			{Name: StageStep, Worker: "0", QueueDepth: 1, QueueCapacity: 1024, Items: next(), BatchSizes: log2(1), BatchDurations: log2(1e-6)},
			{Name: StageStep, Worker: "1", QueueCapacity: 1024, Items: next(), BatchSizes: log2(1), BatchDurations: log2(1e-6)},
			{Name: StageReplicate, QueueCapacity: 1024, Items: next(), BatchSizes: log2(1), BatchDurations: log2(1e-6)},
			{Name: StageFsync, QueueCapacity: 1024, Items: next(), BatchSizes: log2(1), BatchDurations: log2(1e-6)},
			{Name: StageApply, QueueCapacity: 1024, Items: next(), BatchSizes: log2(1), BatchDurations: log2(1e-6)},
		},
		WAL: WAL{
			SyncDurations: log2(1e-6), EntriesPerWrite: log2(1), WrittenBytes: next(), Entries: next(),
			Segments: 2, SegmentBytes: 8 << 20, LiveBytes: 1 << 20, SegmentsCreated: next(), SegmentsRemoved: next(),
			RewrittenBytes: next(), TornBytes: next(), CacheHits: next(), DiskReads: next(), IndexBytes: 100, CacheBytes: 200,
		},
		Consensus: Consensus{
			Groups: groups, GroupsLed: 1, GroupsLeaderless: 0, ApplyLagMax: 7,
			ElectionsStarted: next(), LeaderChanges: next(),
			ProposalsNotLeader: next(), ProposalsBusy: next(), ProposalsDropped: next(),
		},
		Reads: Reads{
			Linearizable: next(), ReadIndex: next(), Lease: next(), Follower: next(), Stale: next(),
			LeaseHits: next(), IndexReads: next(), IndexRounds: next(),
		},
		Snapshots: Snapshots{
			Taken: next(), TakeFailures: next(), Sent: next(), SendFailures: next(),
			Received: next(), ReceiveFailures: next(), Installed: next(), InstallFailures: next(),
			TakeDurations: log2(1e-3), ReceiveDurations: log2(1e-3), InstallDurations: log2(1e-3),
		},
		Transport: Transport{
			BytesSent: next(), BytesReceived: next(), FramesSent: next(), FramesReceived: next(),
			MessagesSent: next(), MessagesReceived: next(), Writes: next(),
			HeartbeatFramesSent: next(), HeartbeatsSent: next(), HeartbeatFramesReceived: next(), HeartbeatsReceived: next(),
			MessagesDropped: next(), DroppedWrongNode: next(), Connects: next(), Accepted: next(), DialFailures: next(),
			Errors:        []ErrorCount{{"other", next()}, {"cluster_mismatch", next()}, {"dial", next()}},
			SnapshotsSent: next(), SnapshotsFailed: next(), SnapshotsReceived: next(),
			SnapshotBytesSent: next(), SnapshotBytesReceived: next(), SnapshotResumes: next(),
		},
	}
	for g := range groups {
		s.Groups = append(s.Groups, Group{ID: uint64(g + 1), Role: RoleFollower, Term: 3, Leader: 2, CommitIndex: 10, AppliedIndex: 9})
	}
	if groups > 0 {
		s.Groups[0].Role = RoleLeader
	}
	return s
}

// fixed is a collector reading s, which records the groupsMax it was
// asked for.
func fixed(s Sample, opts Options, asked *int) *Collector {
	return NewCollector(func(out *Sample, groupsMax int) {
		*out = s
		if asked != nil {
			*asked = groupsMax
		}
	}, opts)
}

func TestCollectorExportsEveryDefinitionAndLints(t *testing.T) {
	mfs := scrape(t, fixed(fullSample(2), Options{}, nil))
	for _, d := range definitions {
		mf, ok := mfs[d.Name]
		if !ok {
			t.Errorf("%s is defined but not exported", d.Name)
			continue
		}
		if got := strings.ToLower(mf.GetType().String()); got != string(d.Type) {
			t.Errorf("%s is exported as a %s, defined as a %s", d.Name, got, d.Type)
		}
	}
	if len(mfs) != len(definitions) {
		t.Errorf("%d families exported, %d defined", len(mfs), len(definitions))
	}
}

func TestCollectorValues(t *testing.T) {
	s := fullSample(2)
	mfs := scrape(t, fixed(s, Options{}, nil))
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"raftpipe_stage_queue_depth", []string{"stage", "batch", "worker", ""}, 3},
		{"raftpipe_stage_queue_capacity", []string{"stage", "step", "worker", "1"}, 1024},
		{"raftpipe_stage_items_total", []string{"stage", "apply"}, float64(s.Stages[5].Items)},
		{"raftpipe_stage_batch_size", []string{"stage", "fsync"}, float64(s.Stages[4].BatchSizes.Counts[0] + s.Stages[4].BatchSizes.Counts[1] + s.Stages[4].BatchSizes.Counts[3])},
		{"raftpipe_wal_entries_total", nil, float64(s.WAL.Entries)},
		{"raftpipe_wal_segments", nil, 2},
		{"raftpipe_groups", nil, 2},
		{"raftpipe_groups_led", nil, 1},
		{"raftpipe_apply_lag_max", nil, 7},
		{"raftpipe_proposals_refused_total", []string{"reason", "busy"}, float64(s.Consensus.ProposalsBusy)},
		{"raftpipe_group_role", []string{"group", "1", "role", "leader"}, 1},
		{"raftpipe_group_role", []string{"group", "1", "role", "follower"}, 0},
		{"raftpipe_group_role", []string{"group", "2", "role", "follower"}, 1},
		{"raftpipe_group_commit_index", []string{"group", "2"}, 10},
		{"raftpipe_group_leader_id", []string{"group", "2"}, 2},
		{"raftpipe_reads_total", []string{"mode", "lease"}, float64(s.Reads.Lease)},
		{"raftpipe_read_lease_hits_total", nil, float64(s.Reads.LeaseHits)},
		{"raftpipe_snapshot_failures_total", []string{"op", "install"}, float64(s.Snapshots.InstallFailures)},
		{"raftpipe_transport_bytes_total", []string{"direction", "received"}, float64(s.Transport.BytesReceived)},
		{"raftpipe_transport_errors_total", []string{"kind", "cluster_mismatch"}, float64(s.Transport.Errors[1].Count)},
		{"raftpipe_transport_dropped_messages_total", []string{"reason", "wrong_node"}, float64(s.Transport.DroppedWrongNode)},
	}
	for _, c := range checks {
		if got := value(t, mfs, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %g, want %g", c.name, c.labels, got, c.want)
		}
	}
	m, _ := find(mfs, "raftpipe_wal_fsync_duration_seconds")
	if got, want := m.GetHistogram().GetSampleSum(), s.WAL.SyncDurations.Sum; got != want {
		t.Errorf("fsync duration sum %g, want the exact %g", got, want)
	}
}

func TestGroupSeriesOnlyWhileFewGroups(t *testing.T) {
	perGroup := func(mfs map[string]*dto.MetricFamily) int {
		n := 0
		for name, mf := range mfs {
			if strings.HasPrefix(name, "raftpipe_group_") {
				n += len(mf.GetMetric())
			}
		}
		return n
	}
	cases := []struct {
		name      string
		groups    int
		opts      Options
		asked     int
		perGroup  int // series
		aggregate float64
	}{
		{"at the default bound", DefaultGroupSeriesMax, Options{}, DefaultGroupSeriesMax, DefaultGroupSeriesMax * 8, DefaultGroupSeriesMax},
		{"past the default bound", DefaultGroupSeriesMax + 1, Options{}, DefaultGroupSeriesMax, 0, DefaultGroupSeriesMax + 1},
		{"a bound of its own", 3, Options{GroupSeriesMax: 2}, 2, 0, 3},
		{"turned off", 1, Options{GroupSeriesMax: -1}, 0, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The sample lists every group whatever the bound, as a careless
			// host could: the collector still holds the line.
			var asked int
			mfs := scrape(t, fixed(fullSample(c.groups), c.opts, &asked))
			if asked != c.asked {
				t.Errorf("the host was asked for at most %d groups, want %d", asked, c.asked)
			}
			if got := perGroup(mfs); got != c.perGroup {
				t.Errorf("%d per-group series, want %d", got, c.perGroup)
			}
			if got := value(t, mfs, "raftpipe_groups"); got != c.aggregate {
				t.Errorf("raftpipe_groups = %g, want %g", got, c.aggregate)
			}
			if _, ok := find(mfs, "raftpipe_groups_led"); !ok {
				t.Error("the host-wide aggregates must always be exported")
			}
		})
	}
}

func TestConstLabelsOnEverySeries(t *testing.T) {
	mfs := scrape(t, fixed(fullSample(1), Options{ConstLabels: prometheus.Labels{"node": "7"}}, nil))
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == "node" && l.GetValue() == "7" }) {
				t.Fatalf("%s has a series without node=7", name)
			}
		}
	}
}

func TestDefinitionsFollowConventions(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Definitions() {
		if seen[d.Name] {
			t.Errorf("%s is defined twice", d.Name)
		}
		seen[d.Name] = true
		if !strings.HasPrefix(d.Name, "raftpipe_") {
			t.Errorf("%s lacks the raftpipe_ prefix", d.Name)
		}
		if (d.Type == Counter) != strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s: counters, and only counters, end in _total", d.Name)
		}
		if d.Help == "" {
			t.Errorf("%s has no help", d.Name)
		}
	}
	if *printMarkdown {
		fmt.Print(markdown(Definitions()))
	}
}

// markdown renders the list for the project README:
// go test ./metrics -run Conventions -v -args -markdown.
func markdown(defs []Definition) string {
	var b strings.Builder
	b.WriteString("| metric | type | labels | meaning |\n| --- | --- | --- | --- |\n")
	for _, d := range defs {
		labels := strings.Join(d.Labels, ", ")
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Name, d.Type, labels, d.Help)
	}
	return b.String()
}

func TestNewRegistryHasRuntimeAndProcessCollectors(t *testing.T) {
	mfs, err := NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var goroutines, process bool
	for _, mf := range mfs {
		goroutines = goroutines || mf.GetName() == "go_goroutines"
		process = process || strings.HasPrefix(mf.GetName(), "process_")
	}
	if !goroutines || !process {
		t.Fatalf("go_goroutines %v, process_* %v: want both", goroutines, process)
	}
}
