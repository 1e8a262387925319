package raftpipe

import (
	"context"
	"fmt"
)

// Forwarding lets a service answer a client on any host: a host that is
// not the leader forwards the request to the host that is, over the peer
// transport's call connections (see package transport, "Calls"), and
// hands the answer back. The request and answer are opaque bytes to the
// framework; a service may forward a whole pipelined burst as one request.

// ForwardHandler answers a request that host from sent with Forward. It
// is called concurrently, on a goroutine per request (at most
// Config.Transport.CallsServedMax at once per sending host, 1024 by
// default; beyond that the sender gets ErrPeerBusy). ctx ends when the sender's deadline passes,
// when the connection is lost, or when the host stops: the handler should
// then return soon, as Stop waits for it. An error reaches the sender as
// ErrPeerBusy if it wraps ErrPeerBusy, otherwise as ErrRemote with the
// error's text (the first 4 KiB). req is the handler's to keep.
type ForwardHandler func(ctx context.Context, from uint64, req []byte) ([]byte, error)

// Forward sends req to host node's ForwardHandler and returns its answer.
// Concurrent calls share one connection to node. The errors to match:
//
//   - ErrRequestTooLarge: req is longer than ForwardBytesMax; nothing was
//     sent.
//   - ErrUnreachable: node is unknown or unreachable, or the connection
//     was lost while the request was in flight, in which case node may
//     have served it. Every request in flight on a lost connection fails
//     at once.
//   - ErrPeerBusy: node refused the request unserved (too many in flight
//     from this host, or no handler installed yet): try again.
//   - ErrRemote: node's handler returned an error; its text follows.
//   - ctx's error: node may still serve the request.
func (h *Host) Forward(ctx context.Context, node uint64, req []byte) ([]byte, error) {
	return h.tr.Call(ctx, node, req)
}

// HandleForwarded installs fn to answer the requests other hosts forward
// to this one, replacing the handler before it; nil removes it. Until a
// handler is installed, requests are answered ErrPeerBusy, so that a host
// still starting looks to its senders like one to try again.
func (h *Host) HandleForwarded(fn ForwardHandler) {
	if fn == nil {
		h.handler.forward.Store(nil)
		return
	}
	h.handler.forward.Store(&fn)
}

// ForwardBytesMax is the longest request Forward sends and the longest
// answer a ForwardHandler may give (a longer one reaches the sender as
// ErrRemote): Config.Transport.MaxFrameBytes less 20 bytes of header.
func (h *Host) ForwardBytesMax() int { return h.tr.CallPayloadBytesMax() }

// serveForwarded is hostHandler's HandleCall: it runs the installed
// ForwardHandler.
func (t *hostHandler) serveForwarded(ctx context.Context, from uint64, req []byte) ([]byte, error) {
	fn := t.forward.Load()
	if fn == nil {
		return nil, fmt.Errorf("%w: no handler for forwarded requests is installed yet", ErrPeerBusy)
	}
	return (*fn)(ctx, from, req)
}
