package main

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/raftpipe/raftpipe"
)

// handOffTimeout bounds how long a stopping leader tries to hand each of
// its groups to another voter.
const handOffTimeout = 2 * time.Second

// handOff hands every group this node leads to another voter before the
// node stops, so that clients see a leader change of a round trip rather
// than an election timeout of -TRYAGAIN. It tries the known peers in ID
// order (a learner, or a peer that is down, refuses or never takes over)
// and gives up quietly: stopping goes on either way.
func handOff(host *raftpipe.Host, groups []uint64, peers map[uint64]string, log *slog.Logger) {
	ids := make([]uint64, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ctx, cancel := context.WithTimeout(context.Background(), handOffTimeout)
	defer cancel()
	for _, g := range groups {
		for _, to := range ids {
			if st, err := host.Status(g); err != nil || st.Role != raftpipe.Leader {
				break
			}
			// A peer that is down accepts nothing and never takes over:
			// give each a share of the time, then try the next.
			actx, acancel := context.WithTimeout(ctx, handOffTimeout/4)
			ok := host.TransferLeader(actx, g, to) == nil && waitNotLeader(actx, host, g)
			acancel()
			if ok {
				log.Info("handed leadership over before stopping", "group", g, "to", to)
				break
			}
		}
	}
}

// waitNotLeader waits until this node no longer leads group, or ctx ends.
func waitNotLeader(ctx context.Context, host *raftpipe.Host, group uint64) bool {
	for {
		if st, err := host.Status(group); err != nil || st.Role != raftpipe.Leader {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}
