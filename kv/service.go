package kv

import (
	"context"
	"errors"
	"fmt"

	"github.com/raftpipe/raftpipe"
)

// Service is the replicated key/value service of one node: the host's
// groups running this node's Pebble machines, the router that says which
// group holds a key, and forwarding, so that any node accepts any
// request. Writes and linearizable reads that reach a follower go to the
// group's leader over the peer transport, one request per burst, and come
// back as if served here. Forwarded requests are served locally only,
// never forwarded again, so a leader change cannot make them loop.
type Service struct {
	host   *raftpipe.Host
	store  *Store
	router Router
}

// NewService starts every group of router on host with its machine in
// store; voters are the groups' members at their first start (none for a
// node that joins a running cluster and waits to be added). It then serves
// the requests other nodes forward to this one.
func NewService(ctx context.Context, host *raftpipe.Host, store *Store, router Router, voters []uint64) (*Service, error) {
	s := &Service{host: host, store: store, router: router}
	for _, g := range router.Groups() {
		m, err := store.Machine(g)
		if err != nil {
			return nil, err
		}
		if err := host.StartGroup(ctx, g, raftpipe.Membership{Voters: voters}, m); err != nil {
			return nil, fmt.Errorf("kv: start group %d: %w", g, err)
		}
	}
	host.HandleForwarded(s.serveForwarded)
	return s, nil
}

// Router returns the service's router.
func (s *Service) Router() Router { return s.router }

// Host returns the host the service runs on.
func (s *Service) Host() *raftpipe.Host { return s.host }

// Write replicates cmds through group, as one burst, and returns each
// command's outcome. On a follower they are forwarded to the leader.
func (s *Service) Write(ctx context.Context, group uint64, cmds [][]byte) ([]raftpipe.Outcome, error) {
	outs, err := s.host.ProposeBatch(ctx, group, cmds)
	if leader, ok := forwardTo(err); ok {
		return s.forward(ctx, leader, forwardRequest{kind: forwardWrite, group: group, items: cmds})
	}
	return outs, err
}

// Read answers queries from group as fresh as mode promises. A
// linearizable read on a follower goes to the leader; FollowerRead is
// answered here, after the leader confirms the read index.
func (s *Service) Read(ctx context.Context, group uint64, queries [][]byte, mode raftpipe.ReadMode) ([]raftpipe.Outcome, error) {
	outs, err := s.readLocal(ctx, group, queries, mode)
	if leader, ok := forwardTo(err); ok && mode != raftpipe.FollowerRead && mode != raftpipe.Stale {
		return s.forward(ctx, leader, forwardRequest{kind: forwardRead, group: group, mode: mode, items: queries})
	}
	return outs, err
}

// readLocal reads on this node. The first read proves the node may answer
// (the lease, or a ReadIndex round); the others follow it, and usually
// ride the same lease or round.
func (s *Service) readLocal(ctx context.Context, group uint64, queries [][]byte, mode raftpipe.ReadMode) ([]raftpipe.Outcome, error) {
	outs := make([]raftpipe.Outcome, len(queries))
	for i, q := range queries {
		v, err := s.host.Read(ctx, group, q, mode)
		if err != nil && !errors.Is(err, ErrBadCommand) {
			return nil, err // the node may not answer: none of the burst is answered here
		}
		outs[i] = raftpipe.Outcome{Result: v, Err: err}
	}
	return outs, nil
}

// forwardTo reports whether err asks for the request to go to a known
// leader, and which.
func forwardTo(err error) (uint64, bool) {
	var nl *raftpipe.NotLeaderError
	if errors.As(err, &nl) && nl.Leader != 0 {
		return nl.Leader, true
	}
	return 0, false
}

func (s *Service) forward(ctx context.Context, leader uint64, r forwardRequest) ([]raftpipe.Outcome, error) {
	resp, err := s.host.Forward(ctx, leader, encodeForwardRequest(nil, r))
	if err != nil {
		return nil, fmt.Errorf("kv: forward to leader %d: %w", leader, err)
	}
	outs, err := decodeForwardResponse(resp)
	if err == nil && len(outs) != len(r.items) {
		err = fmt.Errorf("%w: %d outcomes for %d requests", ErrBadForward, len(outs), len(r.items))
	}
	return outs, err
}

// serveForwarded serves a request another node forwarded, locally only.
func (s *Service) serveForwarded(ctx context.Context, from uint64, req []byte) ([]byte, error) {
	r, err := decodeForwardRequest(req)
	if err != nil {
		return nil, err
	}
	var outs []raftpipe.Outcome
	switch r.kind {
	case forwardWrite:
		outs, err = s.host.ProposeBatch(ctx, r.group, r.items)
	case forwardRead:
		outs, err = s.readLocal(ctx, r.group, r.items, r.mode)
	}
	return encodeForwardResponse(nil, outs, err), nil
}
