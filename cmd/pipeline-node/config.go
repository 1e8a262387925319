package main

import (
	"time"
)

// nodeConfig is everything pipeline-node reads from its TOML file and
// flags. Each field's toml tag is its key (a table's keys are prefixed by
// the table: raft.election-ticks), which is also its flag
// (--raft.election-ticks); its doc tag is the one line of the reference
// (pipeline-node config-reference, and the README's copy of it). The
// defaults are those of defaultNodeConfig.
type nodeConfig struct {
	ID             uint64 `toml:"id" doc:"this node's ID in the cluster; never 0"`
	ClusterID      uint64 `toml:"cluster-id" doc:"checked in every peer handshake: nodes of different clusters refuse each other"`
	DataDir        string `toml:"data-dir" doc:"the node's folder: Raft log, Pebble state, snapshots and its identity"`
	PeerListen     string `toml:"peer-listen" doc:"host:port for the other nodes (Raft, snapshots, forwarded requests)"`
	ClientListen   string `toml:"client-listen" doc:"host:port for Redis clients"`
	HTTPListen     string `toml:"http-listen" doc:"host:port for /metrics, /healthz, /readyz, /status and /admin"`
	InitialCluster string `toml:"initial-cluster" doc:"every voter at first start, as id=host:port,...; read only on the first start, as in etcd"`

	Log    logConfig    `toml:"log"`
	Client clientConfig `toml:"client"`
	HTTP   httpConfig   `toml:"http"`
	Raft   raftConfig   `toml:"raft"`
	Pipe   pipeConfig   `toml:"pipeline"`
	Snap   snapConfig   `toml:"snapshot"`
	WAL    walConfig    `toml:"wal"`
	Peer   peerConfig   `toml:"transport"`
	Pebble pebbleConfig `toml:"pebble"`
}

type logConfig struct {
	Level  string `toml:"level" doc:"debug, info, warn or error"`
	Format string `toml:"format" doc:"text or json"`
}

type clientConfig struct {
	MaxBulkBytes  byteSize      `toml:"max-bulk-bytes" doc:"largest bulk string (key or value) a client may send; at most a quarter of raft.uncommitted-bytes-max and transport.max-frame-bytes"`
	PipelineDepth int           `toml:"pipeline-depth" doc:"most commands of one connection handled as one burst; more wait for the next"`
	MaxClients    int           `toml:"max-clients" doc:"connections served at once; more are refused with -ERR max number of clients reached"`
	IdleTimeout   time.Duration `toml:"idle-timeout" doc:"closes a connection silent this long; 0 never does"`
	RequirePass   string        `toml:"requirepass" doc:"password clients give with AUTH; empty: no AUTH"`
	TLSCertFile   string        `toml:"tls-cert-file" doc:"certificate chain for TLS on the client port; with tls-key-file, TLS is on"`
	TLSKeyFile    string        `toml:"tls-key-file" doc:"private key for TLS on the client port"`
	Timeout       time.Duration `toml:"request-timeout" doc:"how long a write or read may wait for the cluster: then a read gets -TRYAGAIN and a write -UNCERTAIN (it may still commit); keep it below clients' read timeouts"`
}

type httpConfig struct {
	BearerToken string `toml:"bearer-token" doc:"if set, /status, /admin and /debug/pprof require Authorization: Bearer <token>"`
	Pprof       bool   `toml:"pprof" doc:"serves Go's profiles under /debug/pprof/ on the HTTP port"`
}

type raftConfig struct {
	TickInterval     time.Duration `toml:"tick-interval" doc:"the Raft clock's period"`
	ElectionTicks    int           `toml:"election-ticks" doc:"ticks without a leader before a follower campaigns"`
	HeartbeatTicks   int           `toml:"heartbeat-ticks" doc:"ticks between a leader's heartbeats"`
	LeaseDriftTicks  int           `toml:"lease-drift-ticks" doc:"ticks the leader's lease is shortened by, for clock drift; 0 derives it from election-ticks"`
	InflightMsgsMax  int           `toml:"inflight-msgs-max" doc:"appends in flight to one follower"`
	InflightBytesMax byteSize      `toml:"inflight-bytes-max" doc:"bytes of appends in flight to one follower"`
	MsgBytesMax      byteSize      `toml:"msg-bytes-max" doc:"bytes of entries in one append"`
	UncommittedMax   byteSize      `toml:"uncommitted-bytes-max" doc:"uncommitted commands a leader holds before answering -BUSY"`
}

type pipeConfig struct {
	Workers         int           `toml:"workers" doc:"step workers the groups are sharded over"`
	ProposeQueue    int           `toml:"propose-queue" doc:"propose ring slots (a power of two)"`
	WorkerQueue     int           `toml:"worker-queue" doc:"each step worker's ring slots (a power of two)"`
	ReplicateQueue  int           `toml:"replicate-queue" doc:"replicate ring slots (a power of two)"`
	FsyncQueue      int           `toml:"fsync-queue" doc:"fsync ring slots (a power of two)"`
	ApplyQueue      int           `toml:"apply-queue" doc:"apply ring slots (a power of two)"`
	BatchEntriesMax int           `toml:"batch-entries-max" doc:"proposals in one batch"`
	BatchBytesMax   byteSize      `toml:"batch-bytes-max" doc:"bytes of proposals in one batch"`
	BatchWait       time.Duration `toml:"batch-wait" doc:"holds the batch stage back after each drain, for larger batches; 0 never waits"`
	FsyncWriteMax   byteSize      `toml:"fsync-write-bytes-max" doc:"most bytes of one log write"`
	WaitStrategy    string        `toml:"wait-strategy" doc:"how stages wait for work: spin-then-park, blocking, yield or busy-spin"`
}

type snapConfig struct {
	Entries     uint64   `toml:"entries" doc:"a snapshot each time this many entries were applied"`
	LogBytes    byteSize `toml:"log-bytes" doc:"a snapshot each time this many bytes of commands were applied"`
	TailEntries uint64   `toml:"tail-entries" doc:"entries kept behind the snapshot the log is compacted to, for slow followers"`
	Disabled    bool     `toml:"disabled" doc:"no snapshots: the log grows for ever"`
}

type walConfig struct {
	SegmentBytes        byteSize      `toml:"segment-bytes" doc:"size each log segment is preallocated to"`
	PurgeThresholdBytes byteSize      `toml:"purge-threshold-bytes" doc:"log size beyond which old segments are rewritten and removed"`
	StallTimeout        time.Duration `toml:"stall-timeout" doc:"a log write (write and fdatasync) unfinished this long stops the node, so that a leader on a hung disk gives way to another; at least the election timeout; negative: never"`
}

type peerConfig struct {
	MaxFrameBytes     byteSize      `toml:"max-frame-bytes" doc:"largest frame between nodes"`
	SendQueueMessages int           `toml:"send-queue-messages" doc:"messages queued to one peer before more are dropped"`
	DialTimeout       time.Duration `toml:"dial-timeout" doc:"connecting to a peer"`
	IdleTimeout       time.Duration `toml:"idle-timeout" doc:"a silent peer connection is closed after this"`
	TLSCAFile         string        `toml:"tls-ca-file" doc:"the cluster CA; with tls-cert-file and tls-key-file, peers speak mutual TLS"`
	TLSCertFile       string        `toml:"tls-cert-file" doc:"this node's certificate, naming raftpipe://node/<id>"`
	TLSKeyFile        string        `toml:"tls-key-file" doc:"this node's private key"`
}

type pebbleConfig struct {
	CacheBytes            byteSize `toml:"cache-bytes" doc:"Pebble's block cache"`
	MemTableBytes         byteSize `toml:"memtable-bytes" doc:"one memtable"`
	L0CompactionThreshold int      `toml:"l0-compaction-threshold" doc:"L0 read amplification that starts a compaction"`
	L0StopWritesThreshold int      `toml:"l0-stop-writes-threshold" doc:"L0 read amplification that stalls writes"`
	MaxOpenFiles          int      `toml:"max-open-files" doc:"open table files"`
	CompactionsMax        int      `toml:"compactions-max" doc:"concurrent compactions"`
	SnapshotFileBytes     byteSize `toml:"snapshot-file-bytes" doc:"size a snapshot's SST files are cut at"`
}

// defaultNodeConfig is what runs with no file and no flags: a single node
// on loopback, data in ./pipeline-data. The tuning defaults are the
// framework's (raftpipe.DefaultConfig, kv.DefaultOptions).
func defaultNodeConfig() nodeConfig {
	c := nodeConfig{
		ID:             1,
		ClusterID:      1,
		DataDir:        "./pipeline-data",
		PeerListen:     "127.0.0.1:7001",
		ClientListen:   "127.0.0.1:6380",
		HTTPListen:     "127.0.0.1:8080",
		InitialCluster: "1=127.0.0.1:7001",
		Log:            logConfig{Level: "info", Format: "text"},
		Client: clientConfig{
			// A value is one Raft command: it must fit a forwarded request
			// and a leader's uncommitted bytes, hence far below Redis' 512 MiB.
			MaxBulkBytes: 16 << 20, PipelineDepth: 1024, MaxClients: 10000,
			// Below go-redis' 3 s read timeout: a client that gives up first
			// resends a write that may still commit.
			Timeout: 2 * time.Second,
		},
	}
	setFrameworkDefaults(&c)
	return c
}
