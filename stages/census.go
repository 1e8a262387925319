package stages

import (
	"cmp"
	"slices"

	"github.com/raftpipe/raftpipe/consensus"
)

// GroupCensus is what the metrics layer exports of a host's groups: the
// figures of the whole host always, each group's own only while there are
// few, because a host may run thousands and every group's series would
// cost every scrape and the Prometheus server behind it.
type GroupCensus struct {
	Groups     int // groups running on this host
	Led        int // of which this host is the leader
	Leaderless int // of which no leader is known here
	// ApplyLagMax is the largest gap, over the groups, between the commit
	// index and the applied index.
	ApplyLagMax uint64
	// Each lists every group's status, by ID, when there are at most the
	// detailMax asked for; nil otherwise.
	Each []GroupStatusOf
}

// GroupStatusOf is one group's status.
type GroupStatusOf struct {
	Group uint64
	GroupStatus
}

// Census counts the groups as their workers and the apply stage last
// published them. It reads a few atomics per group, on the caller's
// goroutine: a scrape of a host with 10,000 groups costs about 10,000
// loads and takes no lock the pipeline waits on.
func (e *Engine) Census(detailMax int) GroupCensus {
	var c GroupCensus
	e.groups.Range(func(k, v any) bool {
		h := v.(*groupHandle)
		// Applied first: the commit read after it is at least the one
		// the applied entries were committed under.
		applied := h.applied.Load()
		st := GroupStatus{
			Role: consensus.Role(h.role.Load()), Term: h.term.Load(), Leader: h.leader.Load(),
			Commit: h.commit.Load(), Applied: applied,
		}
		c.Groups++
		if st.Role == consensus.Leader {
			c.Led++
		}
		if st.Leader == 0 {
			c.Leaderless++
		}
		if st.Commit > st.Applied {
			c.ApplyLagMax = max(c.ApplyLagMax, st.Commit-st.Applied)
		}
		if c.Groups <= detailMax {
			c.Each = append(c.Each, GroupStatusOf{Group: k.(uint64), GroupStatus: st})
		}
		return true
	})
	if c.Groups > detailMax {
		c.Each = nil
		return c
	}
	slices.SortFunc(c.Each, func(a, b GroupStatusOf) int { return cmp.Compare(a.Group, b.Group) })
	return c
}
