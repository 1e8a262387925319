// Package transport carries the Raft messages of every group on a host to
// the other hosts: a compact hand-written binary protocol, one multiplexed
// connection per peer, coalesced heartbeats, snapshot streams on their own
// connections, and optional mutual TLS.
//
// # Frames
//
// Everything on the wire is a frame: a 16-byte header (magic, protocol
// version, frame type, flags, payload length, CRC32C over header and
// payload) and a payload of uvarints (frame.go, codec.go). A reader checks
// the length against its limit before it allocates, so a hostile header
// costs nothing; before the handshake the limit is 4 KiB. Decoders never
// trust a count beyond the bytes that remain, and every failure wraps one
// sentinel of errors.go, which Stats counts by kind.
//
// # Connections
//
// Each node dials each peer it sends to and writes all its groups' messages
// to that one connection, each message tagged with its group; the peer
// only reads it (answering pings that prove it alive). So a pair of nodes
// shares two connections, one per direction. One connection per pair,
// dialed by the lower ID, was the road not taken: a restarted higher node
// would have to wait out the lower node's reconnect backoff before it
// could send a vote, and both dialing at once needs a tie-break; the
// per-direction connection gives the same multiplexing with neither.
//
// The send path is a Disruptor stage (peer.go, writer.go): Send publishes
// a run of messages for one node into that peer's MPSC ring, and the
// peer's one writer drains whatever is there, encodes it into frames and
// hands them to the kernel with one writev. Order is kept per connection.
// A full ring or a peer known to be down drops messages (counted): Raft
// retries, and nothing queues without bound. While a dial is under way the
// writer waits for it instead of dropping. Every loss of a connection and
// every failed dial is reported (Handler.Unreachable), so consensus stops
// pipelining appends into the void; redials back off exponentially, with
// jitter, between BackoffMin and BackoffMax.
//
// The receive path (reader.go) decodes a frame at a time and hands its
// messages to Handler as one batch, from the connection's own goroutines:
// no shared inbound queue, and no hand-off on a quiet link. A handler that
// blocks holds that connection's reader back, and TCP holds its sender
// back.
//
// # Heartbeats
//
// The heartbeats of all groups for one peer that one drain finds travel as
// one frame of (group, term, commit, round) tuples, and responses as one
// frame of (group, term, round) (heartbeat.go). Step workers send a tick's
// heartbeats in one batch, so heartbeat frames per tick follow the number
// of step workers, not of groups.
//
// # Snapshots
//
// A snapshot streams on a connection of its own (snapshot*.go), so Raft
// traffic never waits behind it: in chunks with a CRC32C each, and a CRC32C
// of the whole stream at the end. The receiver writes chunks to disk with
// a sidecar of their checksums, hands the file on only when all of it is
// synced and verified, and a cut stream resumes at the last chunk that
// verifies, even after a restart. Streams are bounded each way.
//
// # Security
//
// With TLS configured (tls.go), both sides present certificates from the
// cluster CA that name their node ID, the node ID a peer claims in its
// hello must be the one its certificate names, and plaintext is refused.
// Frame checksums are then left out: TLS authenticates every byte.
package transport
