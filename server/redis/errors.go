package redis

import (
	"context"
	"errors"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/server/resp"
)

// appendErr answers err in Redis' terms: -BUSY for back-pressure,
// -TRYAGAIN when the cluster could not answer now (no leader known, a
// leader change, a timeout, a peer unreachable), -ERR otherwise. A failed
// write is answered by appendRunErr.
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

// appendRunErr answers err, the failure of a command of a run of kind k.
//
// A write fails -TRYAGAIN or -BUSY only when it surely was not applied:
// Redis clients resend a -TRYAGAIN command on their own (go-redis does,
// up to MaxRetries times), and a write that timed out in the leader's log
// may still commit, so resending it could apply it twice (an INCR counted
// twice). A write whose fate is unknown fails -UNCERTAIN, which no client
// resends by itself: the caller reads before trying again. Reads may be
// repeated, and keep appendErr's answer.
func appendRunErr(out []byte, k kind, err error) []byte {
	if k == kindWrite && !notApplied(err) {
		return resp.AppendError(out, "UNCERTAIN", "the write may or may not have been applied: "+err.Error())
	}
	return appendErr(out, err)
}

// notApplied reports whether err says that the command it failed was
// never applied, and never will be: refused before it entered the log,
// dropped from it, or never sent to the leader.
//
// ErrUnreachable alone does not say: it also fails a forwarded request
// whose connection was lost while the request was in flight. One that
// never left this node (ErrNotSent: its leader just died, say) was not
// applied, so it answers -TRYAGAIN and the client's retry finds the next
// leader.
func notApplied(err error) bool {
	var ce *clientError
	return errors.As(err, &ce) || errors.Is(err, errSyntax) ||
		errors.Is(err, raftpipe.ErrNotLeader) || errors.Is(err, raftpipe.ErrProposalDropped) ||
		errors.Is(err, raftpipe.ErrBusy) || errors.Is(err, raftpipe.ErrPeerBusy) ||
		errors.Is(err, raftpipe.ErrNoLease) || errors.Is(err, raftpipe.ErrRequestTooLarge) ||
		errors.Is(err, raftpipe.ErrGroupNotFound) ||
		errors.Is(err, raftpipe.ErrNotSent)
}
