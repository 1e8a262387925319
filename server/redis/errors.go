package redis

import (
	"context"
	"errors"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/server/resp"
)

// appendErr answers err in Redis' terms: -BUSY for back-pressure,
// -TRYAGAIN when the cluster could not answer now (no leader known, a
// leader change, a timeout, a peer unreachable), -ERR otherwise.
func appendErr(out []byte, err error) []byte {
	var ce *clientError
	switch {
	case errors.As(err, &ce):
		return resp.AppendError(out, ce.prefix, ce.msg)
	case errors.Is(err, errSyntax):
		return resp.AppendError(out, "ERR", "syntax error")
	case errors.Is(err, raftpipe.ErrBusy):
		return resp.AppendError(out, "BUSY", err.Error())
	case errors.Is(err, raftpipe.ErrNotLeader), errors.Is(err, raftpipe.ErrTimeout),
		errors.Is(err, raftpipe.ErrProposalDropped), errors.Is(err, raftpipe.ErrNoLease),
		errors.Is(err, raftpipe.ErrUnreachable), errors.Is(err, raftpipe.ErrPeerBusy),
		errors.Is(err, context.DeadlineExceeded):
		return resp.AppendError(out, "TRYAGAIN", err.Error())
	}
	return resp.AppendError(out, "ERR", err.Error())
}
