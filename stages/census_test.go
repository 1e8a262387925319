package stages

import (
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
)

// A census always counts every group, and lists each only up to the
// bound asked for: past it, none.
func TestCensusListsGroupsOnlyUpToTheBound(t *testing.T) {
	nodes := startNodes(t, 1, 3)
	e := nodes[0].e
	deadline := time.Now().Add(20 * time.Second)
	for e.Census(0).Led < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("census %+v: the lone voter never led its 3 groups", e.Census(0))
		}
		<-time.After(2 * time.Millisecond)
	}
	c := e.Census(3)
	if c.Groups != 3 || c.Leaderless != 0 || len(c.Each) != 3 {
		t.Fatalf("census %+v, want 3 groups, all led, each listed", c)
	}
	for i, g := range c.Each {
		if g.Group != uint64(i+1) || g.Role != consensus.Leader || g.Leader != 1 || g.Term == 0 {
			t.Fatalf("census lists %+v at %d", g, i)
		}
	}
	if c := e.Census(2); c.Groups != 3 || c.Led != 3 || c.Each != nil {
		t.Fatalf("census under a bound of 2: %+v, want the counts and no list", c)
	}
}
