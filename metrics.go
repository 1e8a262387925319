package raftpipe

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/metrics"
	"github.com/raftpipe/raftpipe/stages"
	"github.com/raftpipe/raftpipe/transport"
)

// RegisterMetrics registers the host's collector (Collector, with the
// default options) in reg. Whoever serves /metrics does it once per host,
// in a registry that also holds the Go runtime and process collectors:
//
//	reg := metrics.NewRegistry()
//	if err := h.RegisterMetrics(reg); err != nil { ... }
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
func (h *Host) RegisterMetrics(reg prometheus.Registerer) error {
	return reg.Register(h.Collector(metrics.Options{}))
}

// Collector returns the Prometheus collector of the host's metrics, which
// package metrics defines and documents. It reads the host's counters at
// each scrape and keeps nothing in between: the pipeline counts with
// atomics and log2 histograms and never touches Prometheus. opts bound
// the per-group series (GroupSeriesMax, 16 by default) and may label
// every series, for a process running several hosts, whose collectors
// would otherwise clash in one registry.
func (h *Host) Collector(opts metrics.Options) prometheus.Collector {
	return metrics.NewCollector(h.sample, opts)
}

// sample reads the host into s, listing each group only while there are
// at most groupsMax.
func (h *Host) sample(s *metrics.Sample, groupsMax int) {
	st := h.Stats()
	census := h.engine.Census(groupsMax)
	s.Stages = stageSamples(st.Stages)
	s.WAL = walSample(st)
	s.Consensus = consensusSample(st.Stages.Consensus, census)
	for _, g := range census.Each {
		s.Groups = append(s.Groups, metrics.Group{
			ID: g.Group, Role: roleLabel(g.Role), Term: g.Term, Leader: g.Leader,
			CommitIndex: g.Commit, AppliedIndex: g.Applied,
		})
	}
	s.Reads = readsSample(st.Stages)
	s.Snapshots = snapshotsSample(st.Stages.Snapshots)
	s.Transport = transportSample(st.Transport)
}

// The stages' histograms count microseconds, the snapshots' milliseconds;
// Prometheus wants seconds.
const (
	microsecond = float64(time.Microsecond) / float64(time.Second)
	millisecond = float64(time.Millisecond) / float64(time.Second)
)

func stageSamples(es stages.EngineStats) []metrics.Stage {
	out := make([]metrics.Stage, 0, 4+len(es.Workers))
	add := func(name, worker string, s stages.Stats) {
		out = append(out, metrics.Stage{
			Name: name, Worker: worker,
			QueueDepth: s.QueueDepth, QueueCapacity: s.QueueCapacity, Items: s.Items,
			BatchSizes:     metrics.Log2{Counts: s.BatchSizes[:], Unit: 1, Sum: float64(s.Items)},
			BatchDurations: metrics.Log2{Counts: s.BatchMicros[:], Unit: microsecond, Sum: s.Busy.Seconds()},
		})
	}
	add(metrics.StageBatch, "", es.Batch)
	for i, w := range es.Workers {
		add(metrics.StageStep, strconv.Itoa(i), w)
	}
	add(metrics.StageReplicate, "", es.Replicate)
	add(metrics.StageFsync, "", es.Fsync)
	add(metrics.StageApply, "", es.Apply)
	return out
}

func walSample(st Stats) metrics.WAL {
	w := st.WAL
	return metrics.WAL{
		SyncDurations:   metrics.Log2{Counts: w.SyncMicros[:], Unit: microsecond, Sum: time.Duration(w.SyncNanos).Seconds()},
		EntriesPerWrite: metrics.Log2{Counts: w.WriteEntries[:], Unit: 1, Sum: float64(w.Entries)},
		WrittenBytes:    w.Bytes, Entries: w.Entries,
		Segments: w.Segments, SegmentBytes: w.SegmentBytes, LiveBytes: w.LiveBytes,
		SegmentsCreated: w.Rotations, SegmentsRemoved: w.SegmentsRemoved,
		RewrittenBytes: w.RewrittenBytes, TornBytes: w.TornBytes,
		CacheHits: w.CacheHits, DiskReads: w.DiskReads,
		IndexBytes: w.IndexBytes, CacheBytes: w.CacheBytes,
	}
}

func consensusSample(c stages.ConsensusStats, census stages.GroupCensus) metrics.Consensus {
	return metrics.Consensus{
		Groups: census.Groups, GroupsLed: census.Led, GroupsLeaderless: census.Leaderless,
		ApplyLagMax:      census.ApplyLagMax,
		ElectionsStarted: c.ElectionsStarted, LeaderChanges: c.LeaderChanges,
		ProposalsNotLeader: c.ProposalsNotLeader, ProposalsBusy: c.ProposalsBusy, ProposalsDropped: c.ProposalsDropped,
	}
}

func roleLabel(r Role) string {
	switch r {
	case consensus.Leader:
		return metrics.RoleLeader
	case consensus.Candidate:
		return metrics.RoleCandidate
	case consensus.PreCandidate:
		return metrics.RolePreCandidate
	}
	return metrics.RoleFollower
}

func readsSample(es stages.EngineStats) metrics.Reads {
	return metrics.Reads{
		Linearizable: es.Reads[Linearizable], ReadIndex: es.Reads[ReadIndexOnly], Lease: es.Reads[LeaseOnly],
		Follower: es.Reads[FollowerRead], Stale: es.Reads[Stale],
		LeaseHits: es.LeaseReads, IndexReads: es.IndexReads, IndexRounds: es.ReadRounds,
	}
}

func snapshotsSample(s stages.SnapshotStats) metrics.Snapshots {
	dur := func(h stages.DurationHistogram) metrics.Log2 {
		return metrics.Log2{Counts: h.Millis[:], Unit: millisecond, Sum: h.Total.Seconds()}
	}
	return metrics.Snapshots{
		Taken: s.Taken, TakeFailures: s.TakeFailures, Sent: s.Sent, SendFailures: s.SendFailures,
		Received: s.Received, ReceiveFailures: s.ReceiveFailures, Installed: s.Installed, InstallFailures: s.InstallFailures,
		TakeDurations: dur(s.TakeTime), ReceiveDurations: dur(s.ReceiveTime), InstallDurations: dur(s.InstallTime),
	}
}

func transportSample(t transport.Stats) metrics.Transport {
	out := metrics.Transport{
		BytesSent: t.BytesSent, BytesReceived: t.BytesReceived,
		FramesSent: t.FramesSent, FramesReceived: t.FramesReceived,
		MessagesSent: t.MessagesSent, MessagesReceived: t.MessagesReceived, Writes: t.Writes,
		HeartbeatFramesSent: t.HeartbeatFramesSent, HeartbeatsSent: t.HeartbeatsSent,
		HeartbeatFramesReceived: t.HeartbeatFramesReceived, HeartbeatsReceived: t.HeartbeatsReceived,
		MessagesDropped: t.MessagesDropped, DroppedWrongNode: t.DroppedWrongNode,
		Connects: t.Connects, Accepted: t.Accepted, DialFailures: t.DialFailures,
		SnapshotsSent: t.SnapshotsSent, SnapshotsFailed: t.SnapshotsFailed, SnapshotsReceived: t.SnapshotsReceived,
		SnapshotBytesSent: t.SnapshotBytesSent, SnapshotBytesReceived: t.SnapshotBytesReceived,
		SnapshotResumes: t.SnapshotResumes,
		CallsSent:       t.CallsSent, CallsFailed: t.CallsFailed, CallsLate: t.CallsLate,
		CallsServed: t.CallsServed, CallsBusy: t.CallsBusy,
		CallBytesSent: t.CallBytesSent, CallBytesReceived: t.CallBytesReceived,
	}
	for _, k := range transport.ErrorKinds() {
		out.Errors = append(out.Errors, metrics.ErrorCount{Kind: k.String(), Count: t.Errors[k]})
	}
	return out
}
