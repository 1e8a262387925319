package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultGroupSeriesMax is how many groups a host may run and still
// export per-group series, unless Options say otherwise.
const DefaultGroupSeriesMax = 16

// Options tune a Collector.
type Options struct {
	// GroupSeriesMax bounds the per-group series (raftpipe_group_*): they
	// are exported while the host runs at most this many groups, and not
	// at all beyond, where only the host-wide aggregates are (groups led,
	// leaderless, the largest apply lag). A host may run thousands of
	// groups, and each costs about ten series. 0 means
	// DefaultGroupSeriesMax; a negative value turns them off.
	GroupSeriesMax int
	// ConstLabels are added to every series: for a process that runs
	// several hosts, say {"node": "1"}, each host's collector with the
	// same label names (a registry refuses a family whose series differ
	// in them). A process that runs one leaves that to Prometheus's
	// instance label.
	ConstLabels prometheus.Labels
}

// Collector exports a host's metrics. It reads the host at each scrape,
// through the function it was made with, and keeps nothing between
// scrapes: the stages count with atomics and log2 histograms, and nothing
// on their paths touches Prometheus.
type Collector struct {
	read      func(s *Sample, groupsMax int)
	groupsMax int
	descs     [numMetrics]*prometheus.Desc
}

// NewCollector returns a collector that calls read at each scrape to fill
// a Sample. read should list Sample.Groups only when the host runs at
// most groupsMax groups (0 when per-group series are off); the collector
// drops them otherwise. read may be called from several scrapes at once.
func NewCollector(read func(s *Sample, groupsMax int), opts Options) *Collector {
	c := &Collector{read: read, groupsMax: opts.GroupSeriesMax}
	switch {
	case c.groupsMax == 0:
		c.groupsMax = DefaultGroupSeriesMax
	case c.groupsMax < 0:
		c.groupsMax = 0
	}
	for i, d := range definitions {
		c.descs[i] = prometheus.NewDesc(d.Name, d.Help, d.Labels, opts.ConstLabels)
	}
	return c
}

// Describe sends the description of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the host and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var s Sample
	c.read(&s, c.groupsMax)
	e := emitter{c: c, ch: ch}
	e.stages(s.Stages)
	e.wal(&s.WAL)
	e.consensus(&s.Consensus)
	if s.Consensus.Groups <= c.groupsMax && len(s.Groups) <= c.groupsMax {
		e.groups(s.Groups)
	}
	e.reads(&s.Reads)
	e.snapshots(&s.Snapshots)
	e.transport(&s.Transport)
}

// emitter sends one scrape's metrics; a metric that cannot be built (a
// bug: labels not matching the definition) is sent as an invalid metric,
// which fails the scrape loudly rather than dropping the series.
type emitter struct {
	c  *Collector
	ch chan<- prometheus.Metric
}

func (e emitter) value(m metric, t prometheus.ValueType, v float64, labels ...string) {
	pm, err := prometheus.NewConstMetric(e.c.descs[m], t, v, labels...)
	if err != nil {
		pm = prometheus.NewInvalidMetric(e.c.descs[m], err)
	}
	e.ch <- pm
}

func (e emitter) counter(m metric, v uint64, labels ...string) {
	e.value(m, prometheus.CounterValue, float64(v), labels...)
}

func (e emitter) gauge(m metric, v float64, labels ...string) {
	e.value(m, prometheus.GaugeValue, v, labels...)
}

func (e emitter) histogram(m metric, h Log2, labels ...string) {
	count, upper := h.Buckets()
	pm, err := prometheus.NewConstHistogram(e.c.descs[m], count, h.Sum, upper, labels...)
	if err != nil {
		pm = prometheus.NewInvalidMetric(e.c.descs[m], err)
	}
	e.ch <- pm
}

func (e emitter) stages(stages []Stage) {
	for _, s := range stages {
		e.gauge(stageQueueDepth, float64(s.QueueDepth), s.Name, s.Worker)
		e.gauge(stageQueueCapacity, float64(s.QueueCapacity), s.Name, s.Worker)
		e.counter(stageItems, s.Items, s.Name, s.Worker)
		e.histogram(stageBatchSize, s.BatchSizes, s.Name, s.Worker)
		e.histogram(stageBatchDuration, s.BatchDurations, s.Name, s.Worker)
	}
}

func (e emitter) wal(w *WAL) {
	e.histogram(walFsyncDuration, w.SyncDurations)
	e.histogram(walEntriesPerFsync, w.EntriesPerWrite)
	e.counter(walWrittenBytes, w.WrittenBytes)
	e.counter(walEntries, w.Entries)
	e.gauge(walSegments, float64(w.Segments))
	e.gauge(walSegmentBytes, float64(w.SegmentBytes))
	e.gauge(walLiveBytes, float64(w.LiveBytes))
	e.counter(walSegmentsCreated, w.SegmentsCreated)
	e.counter(walSegmentsRemoved, w.SegmentsRemoved)
	e.counter(walPurgeRewrittenBytes, w.RewrittenBytes)
	e.counter(walTornBytes, w.TornBytes)
	e.counter(walCacheHits, w.CacheHits)
	e.counter(walDiskReads, w.DiskReads)
	e.gauge(walIndexBytes, float64(w.IndexBytes))
	e.gauge(walCacheBytes, float64(w.CacheBytes))
}

func (e emitter) consensus(c *Consensus) {
	e.gauge(groupsRunning, float64(c.Groups))
	e.gauge(groupsLed, float64(c.GroupsLed))
	e.gauge(groupsLeaderless, float64(c.GroupsLeaderless))
	e.gauge(applyLagMax, float64(c.ApplyLagMax))
	e.counter(electionsStarted, c.ElectionsStarted)
	e.counter(leaderChanges, c.LeaderChanges)
	e.counter(proposalsRefused, c.ProposalsNotLeader, reasonNotLeader)
	e.counter(proposalsRefused, c.ProposalsBusy, reasonBusy)
	e.counter(proposalsRefused, c.ProposalsDropped, reasonDropped)
}

func (e emitter) groups(gs []Group) {
	for _, g := range gs {
		id := strconv.FormatUint(g.ID, 10)
		e.gauge(groupTerm, float64(g.Term), id)
		for _, r := range roles {
			v := 0.0
			if g.Role == r {
				v = 1
			}
			e.gauge(groupRole, v, id, r)
		}
		e.gauge(groupLeader, float64(g.Leader), id)
		e.gauge(groupCommitIndex, float64(g.CommitIndex), id)
		e.gauge(groupAppliedIndex, float64(g.AppliedIndex), id)
	}
}

func (e emitter) reads(r *Reads) {
	e.counter(readsByMode, r.Linearizable, modeLinearizable)
	e.counter(readsByMode, r.ReadIndex, modeReadIndex)
	e.counter(readsByMode, r.Lease, modeLease)
	e.counter(readsByMode, r.Follower, modeFollower)
	e.counter(readsByMode, r.Stale, modeStale)
	e.counter(readLeaseHits, r.LeaseHits)
	e.counter(readIndexReads, r.IndexReads)
	e.counter(readIndexRounds, r.IndexRounds)
}

func (e emitter) snapshots(s *Snapshots) {
	e.counter(snapshotOps, s.Taken, opTake)
	e.counter(snapshotOps, s.Sent, opSend)
	e.counter(snapshotOps, s.Received, opReceive)
	e.counter(snapshotOps, s.Installed, opInstall)
	e.counter(snapshotFailures, s.TakeFailures, opTake)
	e.counter(snapshotFailures, s.SendFailures, opSend)
	e.counter(snapshotFailures, s.ReceiveFailures, opReceive)
	e.counter(snapshotFailures, s.InstallFailures, opInstall)
	e.histogram(snapshotDuration, s.TakeDurations, opTake)
	e.histogram(snapshotDuration, s.ReceiveDurations, opReceive)
	e.histogram(snapshotDuration, s.InstallDurations, opInstall)
}

func (e emitter) transport(t *Transport) {
	e.counter(transportBytes, t.BytesSent, sent)
	e.counter(transportBytes, t.BytesReceived, received)
	e.counter(transportFrames, t.FramesSent, sent)
	e.counter(transportFrames, t.FramesReceived, received)
	e.counter(transportMessages, t.MessagesSent, sent)
	e.counter(transportMessages, t.MessagesReceived, received)
	e.counter(transportWrites, t.Writes)
	e.counter(transportHeartbeatFrames, t.HeartbeatFramesSent, sent)
	e.counter(transportHeartbeatFrames, t.HeartbeatFramesReceived, received)
	e.counter(transportHeartbeats, t.HeartbeatsSent, sent)
	e.counter(transportHeartbeats, t.HeartbeatsReceived, received)
	e.counter(transportDropped, t.MessagesDropped, reasonNotSent)
	e.counter(transportDropped, t.DroppedWrongNode, reasonWrongNode)
	e.counter(transportConnects, t.Connects)
	e.counter(transportAccepted, t.Accepted)
	e.counter(transportDialFailures, t.DialFailures)
	for _, k := range t.Errors {
		e.counter(transportErrors, k.Count, k.Kind)
	}
	e.counter(transportSnapshotStreams, t.SnapshotsSent, sent)
	e.counter(transportSnapshotStreams, t.SnapshotsReceived, received)
	e.counter(transportSnapshotFailures, t.SnapshotsFailed)
	e.counter(transportSnapshotBytes, t.SnapshotBytesSent, sent)
	e.counter(transportSnapshotBytes, t.SnapshotBytesReceived, received)
	e.counter(transportSnapshotResumes, t.SnapshotResumes)
	e.counter(transportCalls, t.CallsSent, sent)
	e.counter(transportCalls, t.CallsFailed, outcomeFailed)
	e.counter(transportCalls, t.CallsLate, outcomeLate)
	e.counter(transportCalls, t.CallsServed, outcomeServed)
	e.counter(transportCalls, t.CallsBusy, outcomeBusy)
	e.counter(transportCallBytes, t.CallBytesSent, sent)
	e.counter(transportCallBytes, t.CallBytesReceived, received)
}
