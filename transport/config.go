package transport

import (
	"fmt"
	"log/slog"
	"time"
)

// Config holds a transport's settings. Zero values take the defaults of
// DefaultConfig, except the identity (ClusterID, NodeID), ListenAddr and
// Handler, which have none. Units are in the names.
type Config struct {
	// ClusterID and NodeID are what this node claims in every handshake
	// and requires of its peers; neither may be 0.
	ClusterID uint64
	NodeID    uint64
	// ListenAddr is where peers connect, as host:port ("127.0.0.1:0" picks
	// a free port; Addr tells which).
	ListenAddr string
	// Peers maps node IDs to addresses at start; AddPeer and RemovePeer
	// change them later.
	Peers map[uint64]string
	// Handler receives what arrives and what became of what was sent.
	Handler Handler
	// TLS turns on mutual TLS when set: plaintext peers are refused.
	TLS *TLSFiles
	// ChecksumUnderTLS keeps frame checksums on TLS links, whose AEAD
	// already authenticates every byte; off by default.
	ChecksumUnderTLS bool

	// MaxFrameBytes is the largest frame payload sent or accepted; a
	// message that does not fit is dropped and counted. It must hold a
	// snapshot chunk.
	MaxFrameBytes int
	// SendQueueMessages is each peer's outbound ring, in messages (a power
	// of two). What does not fit is dropped and counted: Raft retries.
	SendQueueMessages int

	DialTimeout      time.Duration
	HandshakeTimeout time.Duration
	// WriteTimeout bounds one write; a peer that takes longer is cut off.
	WriteTimeout time.Duration
	// PingInterval is how often an idle link is proven alive; a link that
	// stays silent for IdleTimeout is closed.
	PingInterval time.Duration
	IdleTimeout  time.Duration
	// BackoffMin and BackoffMax bound the reconnect backoff, which doubles
	// after each failed attempt, with full jitter.
	BackoffMin time.Duration
	BackoffMax time.Duration

	// SnapshotDir is where incoming snapshot streams are written.
	SnapshotDir string
	// SnapshotChunkBytes is the chunk of a snapshot stream, each with its
	// own checksum; a cut stream resumes from the last whole chunk.
	SnapshotChunkBytes int
	// SnapshotSendStreamsMax and SnapshotRecvStreamsMax bound concurrent
	// streams in each direction. Sends beyond the bound wait, up to
	// SnapshotQueueMax of them; beyond that they fail at once.
	SnapshotSendStreamsMax int
	SnapshotRecvStreamsMax int
	SnapshotQueueMax       int
	// SnapshotAttemptsMax is how many connections a snapshot send tries,
	// resuming each time, before it is reported failed.
	SnapshotAttemptsMax int

	// CallsServedMax bounds the calls (Transport.Call) from one peer that
	// this node serves at once, each a goroutine running HandleCall and
	// holding its request. A request beyond it is answered ErrPeerBusy at
	// once, unserved.
	CallsServedMax int

	Logger *slog.Logger
}

// DefaultConfig returns the defaults: 64 MiB frames, a ring of 8192
// outbound messages per peer, 2 s dials, 5 s handshakes and writes, a ping each second and 10 s of silence before a link is
// dropped, reconnects backing off from 50 ms to 2 s, 1 MiB snapshot
// chunks, 2 snapshot streams each way, 64 queued sends, 5 attempts, and
// 1024 calls served at once per peer (a follower forwards about one call
// per client connection it serves, so the bound is for a flood, not for
// load).
func DefaultConfig() Config {
	return Config{
		MaxFrameBytes:          64 << 20,
		SendQueueMessages:      8192,
		DialTimeout:            2 * time.Second,
		HandshakeTimeout:       5 * time.Second,
		WriteTimeout:           5 * time.Second,
		PingInterval:           time.Second,
		IdleTimeout:            10 * time.Second,
		BackoffMin:             50 * time.Millisecond,
		BackoffMax:             2 * time.Second,
		SnapshotChunkBytes:     1 << 20,
		SnapshotSendStreamsMax: 2,
		SnapshotRecvStreamsMax: 2,
		SnapshotQueueMax:       64,
		SnapshotAttemptsMax:    5,
		CallsServedMax:         1024,
	}
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *int }{
		{&c.MaxFrameBytes, &d.MaxFrameBytes},
		{&c.SendQueueMessages, &d.SendQueueMessages},
		{&c.SnapshotChunkBytes, &d.SnapshotChunkBytes},
		{&c.SnapshotSendStreamsMax, &d.SnapshotSendStreamsMax},
		{&c.SnapshotRecvStreamsMax, &d.SnapshotRecvStreamsMax},
		{&c.SnapshotQueueMax, &d.SnapshotQueueMax},
		{&c.SnapshotAttemptsMax, &d.SnapshotAttemptsMax},
		{&c.CallsServedMax, &d.CallsServedMax},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	for _, f := range []struct{ v, def *time.Duration }{
		{&c.DialTimeout, &d.DialTimeout},
		{&c.HandshakeTimeout, &d.HandshakeTimeout},
		{&c.WriteTimeout, &d.WriteTimeout},
		{&c.PingInterval, &d.PingInterval},
		{&c.IdleTimeout, &d.IdleTimeout},
		{&c.BackoffMin, &d.BackoffMin},
		{&c.BackoffMax, &d.BackoffMax},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// snapshotChunkOverhead is what a chunk frame carries beside the data.
const snapshotChunkOverhead = 32

// Validate reports the first setting that cannot work, named.
func (c Config) Validate() error {
	c.fillDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	pow2 := func(n int) bool { return n > 0 && n&(n-1) == 0 }
	switch {
	case c.ClusterID == 0:
		return bad("cluster_id must not be 0")
	case c.NodeID == 0:
		return bad("node_id must not be 0")
	case c.ListenAddr == "":
		return bad("listen_addr is empty")
	case c.Handler == nil:
		return bad("handler is nil")
	case c.MaxFrameBytes < 64<<10 || c.MaxFrameBytes > MaxFrameBytesLimit:
		return bad("max_frame_bytes %d out of range [%d, %d]", c.MaxFrameBytes, 64<<10, MaxFrameBytesLimit)
	case !pow2(c.SendQueueMessages):
		return bad("send_queue_messages %d is not a positive power of two", c.SendQueueMessages)
	case c.DialTimeout < 0 || c.HandshakeTimeout < 0 || c.WriteTimeout < 0:
		return bad("dial, handshake and write timeouts must be positive")
	case c.PingInterval < 0 || c.IdleTimeout <= c.PingInterval:
		return bad("idle_timeout %s must exceed ping_interval %s", c.IdleTimeout, c.PingInterval)
	case c.BackoffMin < 0 || c.BackoffMax < c.BackoffMin:
		return bad("backoff_max %s must be at least backoff_min %s", c.BackoffMax, c.BackoffMin)
	case c.SnapshotChunkBytes < 4<<10 || c.SnapshotChunkBytes+snapshotChunkOverhead > c.MaxFrameBytes:
		return bad("snapshot_chunk_bytes %d must be at least 4096 and fit in max_frame_bytes %d", c.SnapshotChunkBytes, c.MaxFrameBytes)
	case c.SnapshotSendStreamsMax < 0 || c.SnapshotRecvStreamsMax < 0 || c.SnapshotQueueMax < 0 || c.SnapshotAttemptsMax < 0:
		return bad("snapshot stream bounds must be positive")
	case c.CallsServedMax < 0:
		return bad("calls_served_max %d must be positive", c.CallsServedMax)
	case c.TLS != nil && (c.TLS.CAFile == "" || c.TLS.CertFile == "" || c.TLS.KeyFile == ""):
		return bad("tls needs ca_file, cert_file and key_file")
	}
	for id, addr := range c.Peers {
		if id == 0 || id == c.NodeID || addr == "" {
			return bad("peer %d at %q: a peer needs a nonzero ID other than this node's, and an address", id, addr)
		}
	}
	return nil
}
