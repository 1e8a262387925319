package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/fsm"
)

const (
	replicas = 3

	// The peers' bounds: one attempt, one write with its retries, the
	// pause between attempts, and the wait for the first leaders.
	proposeTimeout = 5 * time.Second
	opTimeout      = 15 * time.Second
	retryPause     = time.Millisecond
	startTimeout   = 30 * time.Second
)

// cluster is three hosts in this process on loopback TCP, each with its
// own log under the run's directory, all running groups 1..G with a MemKV.
type cluster struct {
	hosts  []*raftpipe.Host // node ID i+1 is hosts[i]
	leader []atomic.Int32   // [g] index in hosts of the last leader seen of group g+1
}

var _ system = (*cluster)(nil)

// startCluster starts the hosts under dir (dir/n1..n3), wires them to
// each other, starts groups groups on all three and waits until every
// group has a leader. Every setting but the addresses and folders is
// raftpipe's default: fsync on, as for the peers, and snapshots unless
// noSnapshots.
func startCluster(dir string, groups int, noSnapshots bool, log *slog.Logger) (*cluster, error) {
	c := &cluster{leader: make([]atomic.Int32, groups)}
	for i := range replicas {
		h, err := raftpipe.NewHost(raftpipe.Config{
			NodeID:      uint64(i + 1),
			DataDir:     filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			ListenAddr:  "127.0.0.1:0",
			Logger:      log,
			NoSnapshots: noSnapshots,
		})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("host %d: %w", i+1, err), c.close())
		}
		c.hosts = append(c.hosts, h)
	}
	for _, h := range c.hosts {
		for _, o := range c.hosts {
			if h == o {
				continue
			}
			if err := h.SetPeer(o.NodeID(), o.Addr().String()); err != nil {
				return nil, errors.Join(err, c.close())
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	members := raftpipe.Membership{Voters: []uint64{1, 2, 3}}
	for g := range groups {
		for _, h := range c.hosts {
			if err := h.StartGroup(ctx, groupID(g), members, fsm.NewMemKV()); err != nil {
				return nil, errors.Join(fmt.Errorf("group %d on host %d: %w", groupID(g), h.NodeID(), err), c.close())
			}
		}
	}
	for g := range groups {
		for !c.findLeader(g) {
			if ctx.Err() != nil {
				return nil, errors.Join(fmt.Errorf("group %d has no leader after %v", groupID(g), startTimeout), c.close())
			}
			<-time.After(2 * time.Millisecond)
		}
	}
	return c, nil
}

// groupID is the Raft group of the driver's group index.
func groupID(g int) uint64 { return uint64(g + 1) }

// findLeader looks for a host that leads group g and remembers it.
func (c *cluster) findLeader(g int) bool {
	for i, h := range c.hosts {
		if st, err := h.Status(groupID(g)); err == nil && st.Role == raftpipe.Leader {
			c.leader[g].Store(int32(i))
			return true
		}
	}
	return false
}

// command is a put of payload under the client's own key, so MemKV holds
// one value per client whatever the run's length (the peers' state
// machines only count). It is a few bytes longer than payload (opcode, key
// length, key); mb_per_sec counts payload bytes only, as for the peers.
func (c *cluster) command(client int, payload []byte) []byte {
	return fsm.EncodePut(nil, fmt.Appendf(nil, "c%d", client), payload)
}

// propose writes cmd into group g on the last leader seen. Only refusals
// are retried (not the leader, busy, dropped by a new leader): none of
// them applied the write. A timeout is given up, as its write may still
// commit.
func (c *cluster) propose(g int, cmd []byte) (int, error) {
	deadline := time.Now().Add(opTimeout)
	for retries := 0; ; retries++ {
		h := c.hosts[c.leader[g].Load()]
		ctx, cancel := context.WithTimeout(context.Background(), proposeTimeout)
		res, err := h.Propose(ctx, groupID(g), cmd)
		cancel()
		if err == nil && (len(res) == 0 || res[0] != fsm.StatusOK) {
			err = fmt.Errorf("group %d: put refused by the state machine: %q", groupID(g), res)
		}
		retryable := errors.Is(err, raftpipe.ErrNotLeader) || errors.Is(err, raftpipe.ErrBusy) ||
			errors.Is(err, raftpipe.ErrProposalDropped)
		if !retryable || time.Now().After(deadline) {
			return retries, err
		}
		var nl *raftpipe.NotLeaderError
		if errors.As(err, &nl) && nl.Leader >= 1 && nl.Leader <= replicas {
			c.leader[g].Store(int32(nl.Leader - 1))
		} else if errors.Is(err, raftpipe.ErrNotLeader) {
			c.findLeader(g)
		}
		<-time.After(retryPause)
	}
}

// syncStats sums the three hosts' log counters. Each host has one log for
// every group it runs, leader or follower, so this counts every replica of
// every group, as the peers' hashicorp figure does (summed over its three
// nodes); a host's leader-only share cannot be told apart. Syncs include
// purge's, which a run of seconds does not trigger.
func (c *cluster) syncStats() (entries, syncs uint64) {
	for _, h := range c.hosts {
		w := h.Stats().WAL
		entries += w.Entries
		syncs += w.Syncs
	}
	return entries, syncs
}

// failed returns the first host failure (a log that could not sync, a
// state machine error), which makes the run's figures meaningless.
func (c *cluster) failed() error {
	for _, h := range c.hosts {
		if err := h.Err(); err != nil {
			return fmt.Errorf("host %d failed: %w", h.NodeID(), err)
		}
	}
	return nil
}

func (c *cluster) close() error {
	var errs []error
	for _, h := range c.hosts {
		if err := h.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop host %d: %w", h.NodeID(), err))
		}
	}
	c.hosts = nil
	return errors.Join(errs...)
}
