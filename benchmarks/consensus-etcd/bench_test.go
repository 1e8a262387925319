// Package bench compares raftpipe's consensus core with etcd's raft on one
// thing: the CPU and allocations of a proposal-to-commit cycle.
//
// What is measured: a 3-member group, entirely in memory and driven from one
// goroutine. Each cycle, the leader proposes batch entries of 128 bytes (one
// reused payload buffer), then every node's Ready is handled until no node
// has work left: the proposed entries are persisted and committed
// everywhere, and applied on the leader and on both followers. ns/entry and
// allocs/entry divide the whole loop by the entries proposed.
//
// Why it is fair: both sides do the same work in the same order. Same
// settings (10-tick elections, 1-tick heartbeats, pre-vote, check-quorum,
// 256 appends in flight, 1 MiB per append), each library's own in-memory
// storage, each library's batch proposal (Propose for raftpipe, a MsgProp
// with all the entries for etcd), and one Ready-handling shape: write the
// entries and hard state to storage, acknowledge the write (Persisted, or
// etcd's synchronous mode, where Advance does it), step each message into
// its destination, apply the committed entries, acknowledge them (Applied,
// or Advance). No ticks run during the measurement. Every 4096 entries both
// compact every storage up to its node's applied index, so long runs stay
// bounded. Election happens before the timer starts. What neither side pays
// here is what a real deployment adds: encoding, a network, an fsync.
package bench

import (
	"fmt"
	"io"
	"log"
	"runtime"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

const (
	members      = 3
	payloadSize  = 128
	maxBatch     = 64
	compactEvery = 4096 // entries between compactions
	electionTick = 10
)

// group is one Raft group of one implementation on a synchronous in-memory
// network. Nodes are numbered 0..members-1; their Raft IDs are one more.
type group interface {
	tick()                      // one tick on every node
	leader() int                // the leader's number, or -1
	propose(lead, n int) uint64 // lead proposes n entries; returns the last index
	drain()                     // handles Readys until no node has work
	compact()                   // compacts every storage up to its node's applied index
	applied(i int) (index uint64, payloads int)
}

var impls = []struct {
	name string
	new  func(testing.TB) group
}{
	{"raftpipe", newRaftpipe},
	{"etcd", newEtcd},
}

// tally is what a node applied: the last index, and how many entries carried
// a payload (not the leader's empty entry).
type tally struct {
	index, compacted uint64
	payloads         int
}

// elect ticks every node until there is a leader, then returns it.
func elect(tb testing.TB, g group) int {
	for range 10 * electionTick {
		g.tick()
		g.drain()
		if l := g.leader(); l >= 0 {
			return l
		}
	}
	tb.Fatal("no leader elected")
	return -1
}

func BenchmarkProposeToCommit(b *testing.B) {
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			for _, batch := range []int{1, maxBatch} {
				b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
					g := impl.new(b)
					lead := elect(b, g)
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					mallocs := ms.Mallocs
					b.ReportAllocs()
					b.ResetTimer()
					cycles, sinceCompact, last := 0, 0, uint64(0)
					for b.Loop() {
						last = g.propose(lead, batch)
						g.drain()
						cycles++
						if sinceCompact += batch; sinceCompact >= compactEvery {
							g.compact()
							sinceCompact = 0
						}
					}
					runtime.ReadMemStats(&ms)
					if got, _ := g.applied(lead); got != last {
						b.Fatalf("leader applied up to %d, proposed up to %d", got, last)
					}
					entries := float64(cycles * batch)
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/entries, "ns/entry")
					b.ReportMetric(float64(ms.Mallocs-mallocs)/entries, "allocs/entry")
				})
			}
		})
	}
}

// TestBothCommit checks that a cycle commits and applies exactly the
// proposed entries on every node, compaction included, so that the
// benchmark cannot silently measure nothing.
func TestBothCommit(t *testing.T) {
	const batch, cycles = 8, 10
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			g := impl.new(t)
			lead := elect(t, g)
			start, _ := g.applied(lead)
			for c := 1; c <= cycles; c++ {
				last := g.propose(lead, batch)
				if want := start + uint64(c*batch); last != want {
					t.Fatalf("cycle %d: proposed up to %d, want %d", c, last, want)
				}
				g.drain()
				for i := range members {
					if idx, n := g.applied(i); idx != last || n != c*batch {
						t.Fatalf("cycle %d: node %d applied %d payloads up to %d, want %d up to %d",
							c, i+1, n, idx, c*batch, last)
					}
				}
				g.compact()
			}
		})
	}
}

// raftpipe

type raftpipeNode struct {
	core    *consensus.Core
	storage *consensus.MemoryStorage
	tally
}

type raftpipeGroup struct {
	tb         testing.TB
	nodes      [members]raftpipeNode
	membership consensus.Membership
	ents       []consensus.Entry // maxBatch entries sharing one payload
}

func newRaftpipe(tb testing.TB) group {
	g := &raftpipeGroup{tb: tb, membership: consensus.Membership{Voters: []uint64{1, 2, 3}}}
	payload := make([]byte, payloadSize)
	for range maxBatch {
		g.ents = append(g.ents, consensus.Entry{Data: payload})
	}
	for i := range g.nodes {
		cfg := consensus.DefaultConfig()
		cfg.ID = uint64(i + 1)
		cfg.Storage = consensus.NewMemoryStorage()
		cfg.Members = g.membership
		cfg.ElectionTicks, cfg.HeartbeatTicks = electionTick, 1
		cfg.InflightMsgsMax, cfg.MsgBytesMax = 256, 1<<20
		core, err := consensus.New(cfg)
		g.check(err)
		g.nodes[i] = raftpipeNode{core: core, storage: cfg.Storage.(*consensus.MemoryStorage)}
	}
	return g
}

func (g *raftpipeGroup) check(err error) {
	if err != nil {
		g.tb.Helper()
		g.tb.Fatal(err)
	}
}

func (g *raftpipeGroup) tick() {
	for i := range g.nodes {
		g.nodes[i].core.Tick()
	}
}

func (g *raftpipeGroup) leader() int {
	for i := range g.nodes {
		if g.nodes[i].core.Status().Role == consensus.Leader {
			return i
		}
	}
	return -1
}

func (g *raftpipeGroup) propose(lead, n int) uint64 {
	ents := g.ents[:n]
	_, _, err := g.nodes[lead].core.Propose(ents)
	g.check(err)
	return ents[n-1].Index
}

func (g *raftpipeGroup) drain() {
	for busy := true; busy; {
		busy = false
		for i := range g.nodes {
			n := &g.nodes[i]
			if !n.core.HasReady() {
				continue
			}
			busy = true
			rd := n.core.Ready()
			if rd.Snapshot != nil {
				g.tb.Fatalf("node %d: unexpected snapshot", i+1)
			}
			if rd.PersistSeq != 0 {
				g.check(n.storage.Append(rd.Entries))
				n.storage.SetHardState(rd.HardState)
				g.check(n.core.Persisted(rd.PersistSeq))
			}
			for _, m := range rd.Messages {
				g.check(g.nodes[m.To-1].core.Step(m))
			}
			if k := len(rd.Committed); k > 0 {
				for j := range rd.Committed {
					if len(rd.Committed[j].Data) == payloadSize {
						n.payloads++
					}
				}
				n.index = rd.Committed[k-1].Index
				g.check(n.core.Applied(n.index))
			}
		}
	}
}

func (g *raftpipeGroup) compact() {
	for i := range g.nodes {
		if n := &g.nodes[i]; n.index > n.compacted {
			g.check(n.storage.Compact(n.index, g.membership))
			n.compacted = n.index
		}
	}
}

func (g *raftpipeGroup) applied(i int) (uint64, int) { return g.nodes[i].index, g.nodes[i].payloads }

// etcd

type etcdNode struct {
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	tally
}

type etcdGroup struct {
	tb    testing.TB
	nodes [members]etcdNode
	ents  []raftpb.Entry // maxBatch entries sharing one payload
}

func newEtcd(tb testing.TB) group {
	g := &etcdGroup{tb: tb}
	payload := make([]byte, payloadSize)
	for range maxBatch {
		g.ents = append(g.ents, raftpb.Entry{Data: payload})
	}
	quiet := &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}
	for i := range g.nodes {
		s := raft.NewMemoryStorage()
		// A MemoryStorage cannot start at index 0 with members, so the
		// group starts from a snapshot at index 1 that names them.
		g.check(s.ApplySnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{
			Index: 1, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}}}))
		rn, err := raft.NewRawNode(&raft.Config{
			ID:              uint64(i + 1),
			Storage:         s,
			ElectionTick:    electionTick,
			HeartbeatTick:   1,
			MaxSizePerMsg:   1 << 20,
			MaxInflightMsgs: 256,
			PreVote:         true,
			CheckQuorum:     true,
			Logger:          quiet,
		})
		g.check(err)
		g.nodes[i] = etcdNode{rn: rn, storage: s}
		g.nodes[i].index, g.nodes[i].compacted = 1, 1
	}
	return g
}

func (g *etcdGroup) check(err error) {
	if err != nil {
		g.tb.Helper()
		g.tb.Fatal(err)
	}
}

func (g *etcdGroup) tick() {
	for i := range g.nodes {
		g.nodes[i].rn.Tick()
	}
}

func (g *etcdGroup) leader() int {
	for i := range g.nodes {
		if g.nodes[i].rn.BasicStatus().RaftState == raft.StateLeader {
			return i
		}
	}
	return -1
}

func (g *etcdGroup) propose(lead, n int) uint64 {
	ents := g.ents[:n]
	// What RawNode.Propose does, with n entries instead of one; the leader
	// fills in their Term and Index as raftpipe's Propose does.
	g.check(g.nodes[lead].rn.Step(raftpb.Message{Type: raftpb.MsgProp, From: uint64(lead + 1), Entries: ents}))
	return ents[n-1].Index
}

func (g *etcdGroup) drain() {
	for busy := true; busy; {
		busy = false
		for i := range g.nodes {
			n := &g.nodes[i]
			if !n.rn.HasReady() {
				continue
			}
			busy = true
			rd := n.rn.Ready()
			if !raft.IsEmptySnap(rd.Snapshot) {
				g.tb.Fatalf("node %d: unexpected snapshot", i+1)
			}
			g.check(n.storage.Append(rd.Entries))
			if !raft.IsEmptyHardState(rd.HardState) {
				g.check(n.storage.SetHardState(rd.HardState))
			}
			for _, m := range rd.Messages {
				g.check(g.nodes[m.To-1].rn.Step(m))
			}
			if k := len(rd.CommittedEntries); k > 0 {
				for j := range rd.CommittedEntries {
					if len(rd.CommittedEntries[j].Data) == payloadSize {
						n.payloads++
					}
				}
				n.index = rd.CommittedEntries[k-1].Index
			}
			n.rn.Advance(rd)
		}
	}
}

func (g *etcdGroup) compact() {
	for i := range g.nodes {
		if n := &g.nodes[i]; n.index > n.compacted {
			g.check(n.storage.Compact(n.index))
			n.compacted = n.index
		}
	}
}

func (g *etcdGroup) applied(i int) (uint64, int) { return g.nodes[i].index, g.nodes[i].payloads }
