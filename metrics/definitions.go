package metrics

// This file is the list of every metric a host exports: its name, type,
// labels and meaning. Names follow Prometheus's conventions: the raftpipe_
// prefix, base units (seconds, bytes) as suffixes, _total on counters.

// Type is a metric's Prometheus type.
type Type string

// The types used.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Definition is one metric.
type Definition struct {
	Name   string
	Type   Type
	Labels []string
	Help   string
}

// Definitions returns every metric a host exports, in the order of the
// list below.
func Definitions() []Definition {
	out := make([]Definition, len(definitions))
	for i, d := range definitions {
		d.Labels = append([]string(nil), d.Labels...)
		out[i] = d
	}
	return out
}

// metric names a definition.
type metric int

const (
	stageQueueDepth metric = iota
	stageQueueCapacity
	stageItems
	stageBatchSize
	stageBatchDuration

	walFsyncDuration
	walEntriesPerFsync
	walWrittenBytes
	walEntries
	walSegments
	walSegmentBytes
	walLiveBytes
	walSegmentsCreated
	walSegmentsRemoved
	walPurgeRewrittenBytes
	walTornBytes
	walCacheHits
	walDiskReads
	walIndexBytes
	walCacheBytes

	groupsRunning
	groupsLed
	groupsLeaderless
	applyLagMax
	electionsStarted
	leaderChanges
	proposalsRefused
	groupTerm
	groupRole
	groupLeader
	groupCommitIndex
	groupAppliedIndex

	readsByMode
	readLeaseHits
	readIndexReads
	readIndexRounds

	snapshotOps
	snapshotFailures
	snapshotDuration

	transportBytes
	transportFrames
	transportMessages
	transportWrites
	transportHeartbeatFrames
	transportHeartbeats
	transportDropped
	transportConnects
	transportAccepted
	transportDialFailures
	transportErrors
	transportSnapshotStreams
	transportSnapshotFailures
	transportSnapshotBytes
	transportSnapshotResumes
	transportCalls
	transportCallBytes

	numMetrics
)

// The labels, and the values of those whose values are fixed.
const (
	labelStage     = "stage"     // batch, step, replicate, fsync, apply
	labelWorker    = "worker"    // the step worker, 0 to Workers-1; empty for the other stages
	labelGroup     = "group"     // the group ID; only while GroupSeriesMax bounds them
	labelRole      = "role"      // follower, pre_candidate, candidate, leader
	labelReason    = "reason"    // why proposals or messages were dropped
	labelMode      = "mode"      // linearizable, read_index, lease, follower, stale
	labelOp        = "op"        // take, send, receive, install
	labelDirection = "direction" // sent, received
	labelKind      = "kind"      // the transport's error kinds
	labelOutcome   = "outcome"   // sent, failed, late, served, busy

	reasonNotLeader = "not_leader"
	reasonBusy      = "busy"
	reasonDropped   = "dropped"
	reasonNotSent   = "not_sent"
	reasonWrongNode = "wrong_node"

	modeLinearizable = "linearizable"
	modeReadIndex    = "read_index"
	modeLease        = "lease"
	modeFollower     = "follower"
	modeStale        = "stale"

	opTake    = "take"
	opSend    = "send"
	opReceive = "receive"
	opInstall = "install"

	sent     = "sent"
	received = "received"

	outcomeFailed = "failed"
	outcomeLate   = "late"
	outcomeServed = "served"
	outcomeBusy   = "busy"
)

var (
	stageLabels = []string{labelStage, labelWorker}
	groupLabels = []string{labelGroup}
)

var definitions = [numMetrics]Definition{
	// Every stage of the pipeline, and each step worker.
	stageQueueDepth:    {"raftpipe_stage_queue_depth", Gauge, stageLabels, "Items waiting in the stage's ring: proposals (batch), events (step), messages (replicate), persist requests (fsync), apply tasks (apply)."},
	stageQueueCapacity: {"raftpipe_stage_queue_capacity", Gauge, stageLabels, "Size of the stage's ring in items; depth over capacity is how full it is."},
	stageItems:         {"raftpipe_stage_items_total", Counter, stageLabels, "Items the stage handled: proposals (batch), events (step), messages (replicate), persist requests (fsync), entries (apply)."},
	stageBatchSize:     {"raftpipe_stage_batch_size", Histogram, stageLabels, "Items handled per drain of the stage's ring: batches grow with load and shrink to one when idle."},
	stageBatchDuration: {"raftpipe_stage_batch_duration_seconds", Histogram, stageLabels, "Time the stage spent handling one drain (time in stage)."},

	// The write-ahead log.
	walFsyncDuration:       {"raftpipe_wal_fsync_duration_seconds", Histogram, nil, "Duration of each fdatasync of the write-ahead log, purge's rewrites included."},
	walEntriesPerFsync:     {"raftpipe_wal_entries_per_fsync", Histogram, nil, "Raft entries appended per synced write of the log: one fdatasync covers them all, whatever their group (group commit)."},
	walWrittenBytes:        {"raftpipe_wal_written_bytes_total", Counter, nil, "Bytes written to the log, purge's rewrites included."},
	walEntries:             {"raftpipe_wal_entries_total", Counter, nil, "Raft entries appended to the log."},
	walSegments:            {"raftpipe_wal_segments", Gauge, nil, "Segment files of the log on disk."},
	walSegmentBytes:        {"raftpipe_wal_segment_bytes", Gauge, nil, "Preallocated size of the log's segments on disk."},
	walLiveBytes:           {"raftpipe_wal_live_bytes", Gauge, nil, "Bytes of log records some group still needs; the rest of the segments is garbage for purge."},
	walSegmentsCreated:     {"raftpipe_wal_segments_created_total", Counter, nil, "Segments the log started."},
	walSegmentsRemoved:     {"raftpipe_wal_segments_removed_total", Counter, nil, "Segments purge removed."},
	walPurgeRewrittenBytes: {"raftpipe_wal_purge_rewritten_bytes_total", Counter, nil, "Bytes of live records purge copied forward to free old segments."},
	walTornBytes:           {"raftpipe_wal_torn_bytes_total", Counter, nil, "Bytes of torn tail truncated when the log was opened."},
	walCacheHits:           {"raftpipe_wal_cache_hits_total", Counter, nil, "Reads of entries served from the log's in-memory cache."},
	walDiskReads:           {"raftpipe_wal_disk_reads_total", Counter, nil, "Records read back from disk: reads the cache missed."},
	walIndexBytes:          {"raftpipe_wal_index_bytes", Gauge, nil, "Memory of every group's log index."},
	walCacheBytes:          {"raftpipe_wal_cache_bytes", Gauge, nil, "Memory of every group's cached entries, about."},

	// Consensus, host-wide: always exported, whatever the number of groups.
	groupsRunning:    {"raftpipe_groups", Gauge, nil, "Raft groups running on this host."},
	groupsLed:        {"raftpipe_groups_led", Gauge, nil, "Groups this host is the leader of."},
	groupsLeaderless: {"raftpipe_groups_leaderless", Gauge, nil, "Groups that know of no leader here."},
	applyLagMax:      {"raftpipe_apply_lag_max", Gauge, nil, "Largest commit index minus applied index over the host's groups, in entries."},
	electionsStarted: {"raftpipe_elections_started_total", Counter, nil, "Elections this host started: terms it entered as a candidate, leader transfers to it included (pre-votes are not counted)."},
	leaderChanges:    {"raftpipe_leader_changes_seen_total", Counter, nil, "Times a group here learnt of a leader when it knew of none or of another one."},
	proposalsRefused: {"raftpipe_proposals_refused_total", Counter, []string{labelReason}, "Proposals that never reached the state machine: at a node not the leader (not_leader), refused by a leader at its limit of uncommitted bytes or with a membership change pending (busy), or dropped after another leader's entry took their index (dropped)."},

	// Consensus, per group: only while the host runs at most GroupSeriesMax groups.
	groupTerm:         {"raftpipe_group_term", Gauge, groupLabels, "The group's current term on this host."},
	groupRole:         {"raftpipe_group_role", Gauge, []string{labelGroup, labelRole}, "1 for the role this host has in the group, 0 for the others."},
	groupLeader:       {"raftpipe_group_leader_id", Gauge, groupLabels, "Node ID of the group's leader as this host knows it; 0 if none."},
	groupCommitIndex:  {"raftpipe_group_commit_index", Gauge, groupLabels, "The group's commit index on this host."},
	groupAppliedIndex: {"raftpipe_group_applied_index", Gauge, groupLabels, "The index this host's state machine of the group has applied."},

	// Reads.
	readsByMode:     {"raftpipe_reads_total", Counter, []string{labelMode}, "Reads begun on a group this host runs, by the mode asked for."},
	readLeaseHits:   {"raftpipe_read_lease_hits_total", Counter, nil, "Reads a leader served through its lease, without a ReadIndex round."},
	readIndexReads:  {"raftpipe_read_index_reads_total", Counter, nil, "Reads that went through a ReadIndex round, follower reads included."},
	readIndexRounds: {"raftpipe_read_index_rounds_total", Counter, nil, "ReadIndex rounds issued, each shared by the reads of a group that arrived together."},

	// Snapshots.
	snapshotOps:      {"raftpipe_snapshots_total", Counter, []string{labelOp}, "Snapshots taken of this host's groups (take), streamed to followers (send), received from leaders and extracted (receive), loaded into state machines (install)."},
	snapshotFailures: {"raftpipe_snapshot_failures_total", Counter, []string{labelOp}, "Snapshot operations that failed, by operation; a failed install stops the host."},
	snapshotDuration: {"raftpipe_snapshot_duration_seconds", Histogram, []string{labelOp}, "How long writing a snapshot (take), extracting a received one (receive) and loading one into its state machine (install) took."},

	// The peer transport.
	transportBytes:            {"raftpipe_transport_bytes_total", Counter, []string{labelDirection}, "Bytes of Raft frames sent to and received from peers."},
	transportFrames:           {"raftpipe_transport_frames_total", Counter, []string{labelDirection}, "Raft frames sent and received."},
	transportMessages:         {"raftpipe_transport_messages_total", Counter, []string{labelDirection}, "Raft messages sent and received; messages per frame is how well the transport batches."},
	transportWrites:           {"raftpipe_transport_writes_total", Counter, nil, "Write syscalls on Raft connections, one per drain of a peer's queue."},
	transportHeartbeatFrames:  {"raftpipe_transport_heartbeat_frames_total", Counter, []string{labelDirection}, "Coalesced heartbeat frames, each carrying the heartbeats of many groups."},
	transportHeartbeats:       {"raftpipe_transport_heartbeats_total", Counter, []string{labelDirection}, "Heartbeat tuples carried by coalesced heartbeat frames."},
	transportDropped:          {"raftpipe_transport_dropped_messages_total", Counter, []string{labelReason}, "Messages dropped: never sent because their peer was down or unknown, its queue full, or they could not be encoded (not_sent); received for another node (wrong_node). Raft retries."},
	transportConnects:         {"raftpipe_transport_connects_total", Counter, nil, "Connections this host established to peers: first connections and reconnections."},
	transportAccepted:         {"raftpipe_transport_accepted_connections_total", Counter, nil, "Connections from peers that passed the handshake."},
	transportDialFailures:     {"raftpipe_transport_dial_failures_total", Counter, nil, "Attempts to connect to a peer that failed, handshake included (each is also counted by kind in raftpipe_transport_errors_total)."},
	transportErrors:           {"raftpipe_transport_errors_total", Counter, []string{labelKind}, "Connection failures by kind: handshake refusals (cluster_mismatch, version_mismatch, wrong_node, TLS kinds), bad frames, I/O errors."},
	transportSnapshotStreams:  {"raftpipe_transport_snapshot_streams_total", Counter, []string{labelDirection}, "Snapshot streams sent whole to followers, and received whole from leaders."},
	transportSnapshotFailures: {"raftpipe_transport_snapshot_stream_failures_total", Counter, nil, "Snapshot streams to followers that failed."},
	transportSnapshotBytes:    {"raftpipe_transport_snapshot_bytes_total", Counter, []string{labelDirection}, "Bytes of snapshot streams sent and received."},
	transportSnapshotResumes:  {"raftpipe_transport_snapshot_resumes_total", Counter, nil, "Snapshot streams that resumed past their start after an interruption."},
	transportCalls:            {"raftpipe_transport_calls_total", Counter, []string{labelOutcome}, "Forwarded requests (a follower's writes and reads for the leader): sent by this host, failed, answered after their caller gave up (late); served here, refused busy."},
	transportCallBytes:        {"raftpipe_transport_call_bytes_total", Counter, []string{labelDirection}, "Bytes of forwarded requests and responses sent and received."},
}
