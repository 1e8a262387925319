// Package resp is the client protocol of pipeline-node: it parses the
// RESP2 requests of redis-cli, redis-benchmark and Redis client libraries
// and encodes the replies. It owns the wire format and its limits, not
// the commands: handlers get a Command's arguments and answer through a
// Writer.
//
// # Requests
//
// A Reader reads one connection into a buffer of its own and parses, as
// Redis does, arrays of bulk strings (what every client sends) and
// inline lines (telnet, nc), with Redis' quoting rules (inline.go).
// ReadBatch returns every command already received, reading only while
// it has none, so a pipelined burst reaches the propose ring as one batch
// and a lone command is not held back waiting for company. Arguments
// alias the buffer, which is reused: in steady state a batch costs no
// allocation and no copy of a payload.
//
// Every length is checked against Limits before the bytes it announces
// are read, and the buffer never outgrows Limits.CommandBytesMax, so a
// client can make a connection hold no more than one command of the
// largest allowed size. A malformed or refused request is a
// *ProtocolError saying what was wrong, in Redis' words: the caller
// replies "-ERR <msg>" and closes the connection, as Redis does.
//
// # Replies
//
// A Writer appends replies to a reused buffer and writes them with one
// call when the caller flushes after the last reply of a batch. The
// Append functions are the same encoders for callers with their own
// buffer. Replies are RESP2 (see writer.go for what RESP3 would add).
//
// # Why not redcon
//
// github.com/tidwall/redcon v1.6.4 parses the same requests. On the same
// pipelined bursts of 16 commands, one burst per read, measured side by
// side (per command; times from the quietest of four runs on 2 shared
// vCPUs; redcon took 5 to 22 times as long in every run):
//
//	                  this package     redcon ReadCommands
//	SET k <16 bytes>  0 allocs, 44 ns  2.4 allocs, 352 B, 453 ns
//	GET k             0 allocs, 32 ns  2.3 allocs, 237 B, 316 ns
//
// It copies every command out of its buffer and allocates its Args, so
// garbage grows with the request rate; it has no limits (a bulk length
// is trusted however large, an inline line grows without end); and its
// buffer doubles whenever a read ends inside a command and is reclaimed
// only when the stream drains, so a client that pipelines without pause
// (redis-cli --pipe) made it hold 32 MiB for a 16 MiB stream, against
// 16 KiB here. It also refuses "*0", which Redis ignores, and splits
// inline quotes differently from Redis. Fixing that is a new reader,
// which is this package.
package resp
