package consensus

import (
	"fmt"
	"slices"
	"testing"
)

// cluster is a group of Cores on a synchronous in-memory network, for
// scenario tests: every Ready is persisted to the node's MemoryStorage and
// acknowledged at once, unless the node's disk is paused.
type cluster struct {
	t       testing.TB
	nodes   map[uint64]*node
	ids     []uint64
	inbox   []Message                     // in flight, in send order
	cut     map[[2]uint64]bool            // directed links that drop everything
	drop    func(Message) bool            // extra drop rule, may be nil
	rewrite func(Message) (Message, bool) // changes or drops a message in flight, may be nil
	applied map[uint64][]Entry            // per node, what reached the state machine
	reads   map[uint64][]ReadState
}

type node struct {
	core    *Core
	storage *MemoryStorage
	cfg     Config
	// diskPaused holds Readys' writes back: persisted is acknowledged only
	// when the disk resumes.
	diskPaused bool
	unsynced   []Ready
}

func testConfig(id uint64, s *MemoryStorage, voters ...uint64) Config {
	cfg := DefaultConfig()
	cfg.ID = id
	cfg.Storage = s
	cfg.Members = Membership{Voters: voters}
	cfg.Seed = id
	return cfg
}

func newCluster(t testing.TB, n int) *cluster {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	return newClusterWith(t, ids, nil)
}

// newClusterWith starts voters, then learners (members that know the
// membership includes them as learners).
func newClusterWith(t testing.TB, voters, learners []uint64) *cluster {
	c := &cluster{t: t, nodes: map[uint64]*node{}, cut: map[[2]uint64]bool{},
		applied: map[uint64][]Entry{}, reads: map[uint64][]ReadState{}}
	for _, id := range slices.Concat(voters, learners) {
		s := NewMemoryStorage()
		cfg := testConfig(id, s, voters...)
		cfg.Members.Learners = learners
		c.add(id, cfg)
	}
	return c
}

func (c *cluster) add(id uint64, cfg Config) {
	core, err := New(cfg)
	if err != nil {
		c.t.Fatalf("node %d: %v", id, err)
	}
	c.nodes[id] = &node{core: core, storage: cfg.Storage.(*MemoryStorage), cfg: cfg}
	if !slices.Contains(c.ids, id) {
		c.ids = append(c.ids, id)
		slices.Sort(c.ids)
	}
}

func (c *cluster) core(id uint64) *Core { return c.nodes[id].core }

// process drains every node's Ready once, persisting and acknowledging.
func (c *cluster) process() bool {
	did := false
	for _, id := range c.ids {
		n := c.nodes[id]
		if n == nil || !n.core.HasReady() {
			continue
		}
		did = true
		rd := n.core.Ready()
		c.inbox = append(c.inbox, rd.Messages...)
		c.reads[id] = append(c.reads[id], rd.ReadStates...)
		if rd.PersistSeq != 0 {
			if n.diskPaused {
				n.unsynced = append(n.unsynced, rd)
			} else {
				c.persist(n, rd)
			}
		}
		c.apply(id, rd)
	}
	return did
}

func (c *cluster) persist(n *node, rd Ready) {
	if rd.Snapshot != nil {
		n.storage.ApplySnapshot(*rd.Snapshot)
	}
	if err := n.storage.Append(rd.Entries); err != nil {
		c.t.Fatalf("node %d: %v", n.cfg.ID, err)
	}
	n.storage.SetHardState(rd.HardState)
	if err := n.core.Persisted(rd.PersistSeq); err != nil {
		c.t.Fatalf("node %d: %v", n.cfg.ID, err)
	}
}

func (c *cluster) apply(id uint64, rd Ready) {
	n := c.nodes[id]
	if rd.Snapshot != nil {
		c.applied[id] = nil // the snapshot replaces the state
		if err := n.core.SnapshotInstalled(rd.Snapshot.Index); err != nil {
			c.t.Fatalf("node %d: %v", id, err)
		}
	}
	if len(rd.Committed) > 0 {
		c.applied[id] = append(c.applied[id], rd.Committed...)
		if err := n.core.Applied(rd.Committed[len(rd.Committed)-1].Index); err != nil {
			c.t.Fatalf("node %d: %v", id, err)
		}
	}
}

// resumeDisk acknowledges the writes held back on id.
func (c *cluster) resumeDisk(id uint64) {
	n := c.nodes[id]
	n.diskPaused = false
	for _, rd := range n.unsynced {
		c.persist(n, rd)
	}
	n.unsynced = nil
}

// deliver hands every message in flight to its destination once.
func (c *cluster) deliver() bool {
	msgs := c.inbox
	c.inbox = nil
	for _, m := range msgs {
		if c.cut[[2]uint64{m.From, m.To}] || c.drop != nil && c.drop(m) {
			continue
		}
		if c.rewrite != nil {
			var ok bool
			if m, ok = c.rewrite(m); !ok {
				continue
			}
		}
		n := c.nodes[m.To]
		if n == nil {
			continue
		}
		if err := n.core.Step(m); err != nil {
			c.t.Fatalf("step %v: %v", m, err)
		}
	}
	return len(msgs) > 0
}

// stabilize processes and delivers until nothing moves.
func (c *cluster) stabilize() {
	for i := 0; ; i++ {
		if i > 10000 {
			c.t.Fatalf("cluster did not stabilize")
		}
		p := c.process()
		d := c.deliver()
		if !p && !d {
			return
		}
	}
}

// tick advances every node's clock n times, stabilizing after each.
func (c *cluster) tick(n int) {
	for range n {
		for _, id := range c.ids {
			if nd := c.nodes[id]; nd != nil {
				nd.core.Tick()
			}
		}
		c.stabilize()
	}
}

// elect makes id leader by timing it out first.
func (c *cluster) elect(id uint64) {
	c.t.Helper()
	n := c.nodes[id].core
	// The others' clocks move on by an election timeout without their
	// timers firing: they stop refusing votes (inLease) but do not
	// campaign themselves.
	for _, o := range c.ids {
		if o != id && c.nodes[o] != nil {
			c.nodes[o].core.now += uint64(c.nodes[o].core.cfg.ElectionTicks)
		}
	}
	for range 2 * n.cfg.ElectionTicks {
		n.Tick()
	}
	c.stabilize()
	if st := n.Status(); st.Role != Leader {
		c.t.Fatalf("node %d did not become leader: %+v", id, st)
	}
}

func (c *cluster) propose(id uint64, data ...string) {
	c.t.Helper()
	ents := make([]Entry, len(data))
	for i, d := range data {
		ents[i] = Entry{Data: []byte(d)}
	}
	if _, _, err := c.core(id).Propose(ents); err != nil {
		c.t.Fatalf("propose on %d: %v", id, err)
	}
}

// isolate cuts id off from every other node, both ways.
func (c *cluster) isolate(id uint64) {
	for _, o := range c.ids {
		if o != id {
			c.cut[[2]uint64{id, o}] = true
			c.cut[[2]uint64{o, id}] = true
		}
	}
}

func (c *cluster) heal() { c.cut = map[[2]uint64]bool{} }

// appliedData returns the data of the normal entries id applied.
func (c *cluster) appliedData(id uint64) []string {
	var out []string
	for _, e := range c.applied[id] {
		if e.Type == EntryNormal {
			out = append(out, string(e.Data))
		}
	}
	return out
}

func (c *cluster) leader() uint64 {
	var lead uint64
	for _, id := range c.ids {
		if n := c.nodes[id]; n != nil && n.core.role == Leader {
			if lead != 0 {
				c.t.Fatalf("two leaders: %d and %d", lead, id)
			}
			lead = id
		}
	}
	return lead
}

func (c *cluster) String() string {
	s := ""
	for _, id := range c.ids {
		st := c.core(id).Status()
		s += fmt.Sprintf("%d:%s term=%d lead=%d commit=%d applied=%d\n", id, st.Role, st.Term, st.Leader, st.Commit, st.Applied)
	}
	return s
}

func TestSmokeElectAndCommit(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.propose(1, "a", "b", "c")
	c.stabilize()
	for _, id := range c.ids {
		if got := c.appliedData(id); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Fatalf("node %d applied %v\n%s", id, got, c)
		}
	}
}
