package consensus

import (
	"fmt"
	"testing"
)

// Helpers for the scenario tests. Everything here is prefixed sc so that it
// cannot collide with the helpers of other test files in the package.

// scNewCluster is newCluster with every node's Config passed through mod.
func scNewCluster(t testing.TB, n int, mod func(*Config)) *cluster {
	c := newCluster(t, n)
	for _, id := range c.ids {
		cfg := testConfig(id, NewMemoryStorage(), c.ids...)
		if mod != nil {
			mod(&cfg)
		}
		c.add(id, cfg)
	}
	return c
}

// scNodeLog is what a node's disk holds before it starts: entries 1..n
// with the given terms, and a hard state.
type scNodeLog struct {
	terms []uint64
	hs    HardState
}

// scLog returns entries 1..len(terms) with those terms; an entry's data is
// "index/term", so that logs of different histories can be told apart.
func scLog(terms ...uint64) []Entry {
	ents := make([]Entry, len(terms))
	for i, term := range terms {
		idx := uint64(i + 1)
		ents[i] = Entry{Term: term, Index: idx, Data: []byte(fmt.Sprintf("%d/%d", idx, term))}
	}
	return ents
}

// scTerms returns n copies of term, to build long logs.
func scTerms(term uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = term
	}
	return out
}

// scClusterWithLogs starts voters 1..len(logs), node i+1 from logs[i].
func scClusterWithLogs(t testing.TB, logs []scNodeLog, mod func(*Config)) *cluster {
	c := newCluster(t, len(logs))
	for i, l := range logs {
		id := uint64(i + 1)
		s := NewMemoryStorage()
		if err := s.Append(scLog(l.terms...)); err != nil {
			t.Fatal(err)
		}
		s.SetHardState(l.hs)
		cfg := testConfig(id, s, c.ids...)
		if mod != nil {
			mod(&cfg)
		}
		c.add(id, cfg)
	}
	return c
}

// scJoin starts a brand-new node id whose configuration is the group's
// initial membership m: it learns every later change from the log.
func scJoin(c *cluster, id uint64, m Membership) {
	cfg := testConfig(id, NewMemoryStorage())
	cfg.Members = m
	c.add(id, cfg)
}

// scInbox returns the messages in flight that match keep, in send order.
func scInbox(c *cluster, keep func(Message) bool) []Message {
	var out []Message
	for _, m := range c.inbox {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// scObserve calls f with every message deliver is about to step (after the
// cut links and any drop rule already installed have had their say).
func scObserve(c *cluster, f func(Message)) {
	prev := c.drop
	c.drop = func(m Message) bool {
		if prev != nil && prev(m) {
			return true
		}
		f(m)
		return false
	}
}

// scRewrite changes a message in flight, or drops it by returning false.
type scRewrite func(Message) (Message, bool)

// scElect is elect with a rewrite hook and a few attempts: a node whose
// first pre-vote is refused by voters of a newer term learns that term from
// the refusals and wins on a later attempt.
func scElect(c *cluster, id uint64, rw scRewrite) {
	c.t.Helper()
	n := c.nodes[id].core
	for range 4 {
		for _, o := range c.ids {
			if o != id && c.nodes[o] != nil {
				c.nodes[o].core.now += uint64(c.nodes[o].core.cfg.ElectionTicks)
			}
		}
		for range 2 * n.cfg.ElectionTicks {
			n.Tick()
		}
		c.rewrite = rw
		c.stabilize()
		c.rewrite = nil
		if n.role == Leader {
			return
		}
	}
	c.t.Fatalf("node %d did not become leader: %+v\n%s", id, n.Status(), c)
}

// scLogOf returns every entry in id's log, persisted or not.
func scLogOf(c *cluster, id uint64) []Entry {
	l := c.core(id).log
	ents, err := l.entries(l.firstIndex(), l.lastIndex()+1, 1<<62)
	if err != nil {
		c.t.Fatalf("node %d: log: %v", id, err)
	}
	return ents
}

// scTermAt returns the term of id's entry at index, 0 if it has none.
func scTermAt(c *cluster, id, index uint64) uint64 { return c.core(id).log.termOr0(index) }
