// Package transport carries the Raft messages of every group on a host to
// the other hosts: a compact hand-written binary protocol, one multiplexed
// connection per peer, coalesced heartbeats, snapshot streams on their own
// connections, calls (an opaque request, its response) between nodes, and
// optional mutual TLS.
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
// # Calls
//
// Call sends an opaque request to a node and waits for the response its
// CallHandler gives: a follower forwards a client's writes to the leader
// this way (call*.go). The requests of one node to another travel on a
// call connection of their own, dialed at the first call and kept, and
// the responses come back on that same connection, as a snapshot
// stream's result does:
//
//	caller                                  callee
//	hello (call)                    →
//	                                ←       hello
//	request: id, deadline, bytes    →       served on a goroutine of its own
//	request: id, deadline, bytes    →
//	                                ←       response: id, status, bytes
//	                                ←       response: id, status, bytes
//
// Concurrent calls are multiplexed, each matched to its response by an ID
// the caller issues; responses come in the order the handlers finish. A
// lost call connection fails every call in flight on it at once with
// ErrUnreachable. Each end writes with one goroutine that drains all that
// is queued into one writev and pings when idle, so each end holds the
// other to the idle timeout, as on a Raft link.
//
// The road not taken was to send requests on the caller's Raft connection
// and responses on the callee's, matched by ID: no new connection, but
// three costs. A Raft link's send queue is lossy by design (Raft retries),
// and a dropped response leaves its caller waiting for its deadline. A
// call would hang on two connections, and failing every call in flight
// when either breaks, and only those, needs both watched. And a forwarded
// burst of many megabytes would queue in the Raft link's writer and socket
// buffer in front of heartbeats. On a connection of its own a call waits
// behind other calls only, never behind Raft traffic, and Raft traffic
// never waits behind it: the two share no queue, no writer, no reader and
// no socket buffer, only the network path. So the ordering is per call
// connection, first queued first written, and none between calls and
// Raft messages. The price is one more connection each way per pair of
// nodes that call each other, and a dial on the first call.
//
// The callee runs each request's handler on a goroutine of its own, never
// on the connection's reader, so a request waiting on consensus holds up
// neither other calls nor anything else; CallsServedMax bounds the
// handlers running for one peer, and a request beyond it is answered
// ErrPeerBusy at once. The request carries the time its caller had left,
// which bounds the handler's context. A request longer than the frame
// limit less the call's fields (CallPayloadBytesMax) is refused before
// anything is sent; a response that long is replaced by an ErrRemote
// answer naming its size.
//
// Calls are new in version 1 without a version bump: a node of an older
// build refuses the call connection's hello (a kind it does not know), so
// a call to it fails with ErrUnreachable wrapping ErrRejected, and its
// Raft traffic goes on as before.
//
// # Security
//
// With TLS configured (tls.go), both sides present certificates from the
// cluster CA that name their node ID, the node ID a peer claims in its
// hello must be the one its certificate names, and plaintext is refused.
// Frame checksums are then left out: TLS authenticates every byte.
package transport
