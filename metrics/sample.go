package metrics

// Sample is one scrape's reading of a host, in this package's terms: the
// host fills it from its counters (package raftpipe, metrics.go), and
// the Collector turns it into metrics. Counters count since the host
// started; gauges are as of the scrape.
type Sample struct {
	Stages    []Stage
	WAL       WAL
	Consensus Consensus
	// Groups are the per-group figures. They are exported only while
	// Consensus.Groups is at most the collector's GroupSeriesMax; the host
	// need not list them beyond.
	Groups    []Group
	Reads     Reads
	Snapshots Snapshots
	Transport Transport
}

// The stage label's values.
const (
	StageBatch     = "batch"
	StageStep      = "step" // one per step worker, with the worker label
	StageReplicate = "replicate"
	StageFsync     = "fsync"
	StageApply     = "apply"
)

// Stage is one stage of the pipeline, or one step worker.
type Stage struct {
	Name   string // one of the Stage constants
	Worker string // the step worker's number; empty for the other stages
	// QueueDepth items wait in the stage's ring of QueueCapacity.
	QueueDepth, QueueCapacity int
	Items                     uint64 // items handled
	// BatchSizes is the items of each drain; BatchDurations how long each
	// drain took, in seconds.
	BatchSizes, BatchDurations Log2
}

// WAL is the write-ahead log's figures.
type WAL struct {
	SyncDurations   Log2 // each fdatasync, in seconds
	EntriesPerWrite Log2 // entries appended by each synced write
	WrittenBytes    uint64
	Entries         uint64
	Segments        int
	SegmentBytes    int64 // preallocated size of the segments
	LiveBytes       int64
	SegmentsCreated uint64
	SegmentsRemoved uint64
	RewrittenBytes  uint64 // copied forward by purge
	TornBytes       uint64 // truncated at open
	CacheHits       uint64
	DiskReads       uint64
	IndexBytes      int64 // memory of the groups' indexes
	CacheBytes      int64 // memory of the groups' cached entries
}

// Consensus is the host-wide figures of its groups.
type Consensus struct {
	Groups, GroupsLed, GroupsLeaderless int
	ApplyLagMax                         uint64 // entries
	ElectionsStarted, LeaderChanges     uint64
	// Proposals refused: not the leader, busy, or dropped after another
	// leader's entry took their index.
	ProposalsNotLeader, ProposalsBusy, ProposalsDropped uint64
}

// The role label's values.
const (
	RoleFollower     = "follower"
	RolePreCandidate = "pre_candidate"
	RoleCandidate    = "candidate"
	RoleLeader       = "leader"
)

// roles are the states of raftpipe_group_role, each exported for every
// group, 1 for the one it is in.
var roles = [...]string{RoleFollower, RolePreCandidate, RoleCandidate, RoleLeader}

// Group is one group's state on the host.
type Group struct {
	ID                        uint64
	Role                      string // one of the Role constants
	Term, Leader              uint64 // Leader is 0 when none is known
	CommitIndex, AppliedIndex uint64
}

// Reads count the reads begun by mode, and how the leader proved them
// fresh.
type Reads struct {
	Linearizable, ReadIndex, Lease, Follower, Stale uint64
	// LeaseHits were served through the leader's lease; IndexReads
	// through a ReadIndex round (follower reads included), of which
	// IndexRounds were issued.
	LeaseHits, IndexReads, IndexRounds uint64
}

// Snapshots count the snapshots taken, sent, received and installed.
type Snapshots struct {
	Taken, TakeFailures        uint64
	Sent, SendFailures         uint64
	Received, ReceiveFailures  uint64
	Installed, InstallFailures uint64
	// In seconds.
	TakeDurations, ReceiveDurations, InstallDurations Log2
}

// Transport is the peer transport's figures.
type Transport struct {
	BytesSent, BytesReceived       uint64
	FramesSent, FramesReceived     uint64
	MessagesSent, MessagesReceived uint64
	Writes                         uint64
	// Coalesced heartbeat frames, and the heartbeat tuples they carried.
	HeartbeatFramesSent, HeartbeatsSent         uint64
	HeartbeatFramesReceived, HeartbeatsReceived uint64
	// MessagesDropped were never sent; DroppedWrongNode arrived for
	// another node.
	MessagesDropped, DroppedWrongNode uint64
	Connects, Accepted, DialFailures  uint64
	Errors                            []ErrorCount
	SnapshotsSent, SnapshotsFailed    uint64
	SnapshotsReceived                 uint64
	SnapshotBytesSent                 uint64
	SnapshotBytesReceived             uint64
	SnapshotResumes                   uint64
	// Forwarded requests: sent, failed and answered late by this host as
	// the caller; served and refused busy as the callee.
	CallsSent, CallsFailed, CallsLate uint64
	CallsServed, CallsBusy            uint64
	CallBytesSent, CallBytesReceived  uint64
}

// ErrorCount is the failures of one kind.
type ErrorCount struct {
	Kind  string // the transport's name for it: lower case, underscores
	Count uint64
}
