package transport

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
)

// Three transports, a thousand groups: every node sends every other node
// appends and heartbeats for every group over its one connection, and
// each receiver gets all of them, in order per sender and group.
func TestLoopbackThreeTransportsThousandGroups(t *testing.T) {
	const nodes, groups, rounds = 3, 1000, 5
	// Every message is sent before any connection is up: the send queues
	// must hold them all, or a slow dial (a loaded machine) drops some.
	trs, recs := cluster(t, nodes, func(c *Config) { c.SendQueueMessages = 1 << 15 }) // ≥ 2×groups×rounds per peer
	for round := uint64(1); round <= rounds; round++ {
		for i, tr := range trs {
			from := uint64(i + 1)
			for to := uint64(1); to <= nodes; to++ {
				if to == from {
					continue
				}
				batch := make([]Msg, 0, 2*groups)
				for g := uint64(1); g <= groups; g++ {
					batch = append(batch, appMsg(g, from, to, 2*round-1, 2, 16), heartbeat(g, from, to, round))
				}
				tr.Send(batch)
			}
		}
	}
	want := (nodes - 1) * groups * rounds * 2
	for i, rec := range recs {
		waitFor(t, 20*time.Second, "all messages delivered", func() bool { return rec.count() >= want })
		got := rec.messages()
		if len(got) != want {
			t.Fatalf("node %d received %d messages, want %d", i+1, len(got), want)
		}
		next := map[[2]uint64]uint64{} // (from, group) -> next append index
		for _, m := range got {
			if m.To != uint64(i+1) {
				t.Fatalf("node %d received a message for node %d", i+1, m.To)
			}
			if m.Type != consensus.MsgApp {
				continue
			}
			key := [2]uint64{m.From, m.Group}
			if n := next[key]; n != 0 && m.Entries[0].Index != n {
				t.Fatalf("node %d: group %d from %d: append at %d after %d: out of order", i+1, m.Group, m.From, m.Entries[0].Index, n)
			}
			next[key] = m.Entries[len(m.Entries)-1].Index + 1
			for _, e := range m.Entries {
				if want := fmt.Sprintf("g%d/i%d", m.Group, e.Index); !bytes.HasPrefix(e.Data, []byte(want)) {
					t.Fatalf("entry %d of group %d carries %q", e.Index, m.Group, e.Data)
				}
			}
		}
		if len(next) != (nodes-1)*groups {
			t.Fatalf("node %d heard appends of %d (sender, group) pairs, want %d", i+1, len(next), (nodes-1)*groups)
		}
	}
	for i, tr := range trs {
		s := tr.Stats()
		if s.Connects != nodes-1 || s.MessagesDropped != 0 {
			t.Errorf("node %d: %d connects, %d dropped; want %d and 0", i+1, s.Connects, s.MessagesDropped, nodes-1)
		}
		if perFrame := float64(s.MessagesSent) / float64(s.FramesSent); perFrame < 10 {
			t.Errorf("node %d: %.1f messages per frame; batches of %d should coalesce", i+1, perFrame, 2*groups)
		}
	}
}
