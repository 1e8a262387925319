package bench

import (
	"math/rand/v2"
	"sync"

	"github.com/raftpipe/raftpipe/consensus"
)

// groupWrite is one group's part of a group commit.
type groupWrite struct {
	group uint64
	ents  []consensus.Entry // contiguous, starting one past the group's last index
	hs    consensus.HardState
}

// payloadBytes is the size of the random bytes that entries' data is cut
// from. Random, because Pebble compresses its tables; large, so that no two
// entries closer than 8 MiB share bytes and no compression window of any
// implementation sees a repeat.
const payloadBytes = 8 << 20

// payload is shared by every workload and never written after creation:
// logstore keeps the entries it is given in its cache.
var payload = sync.OnceValue(func() []byte {
	p := make([]byte, payloadBytes)
	rand.NewChaCha8([32]byte{'r', 'a', 'f', 't'}).Read(p)
	return p
})

// workload produces the group commits of a benchmark or a test: each call
// of next gives every group perGroup more entries and a new hard state.
type workload struct {
	size     int      // bytes of data per entry (at most, if varied)
	perGroup int      // entries per group per write
	varied   bool     // vary data sizes and entry types, for the test
	last     []uint64 // each group's last index; group g+1 at g
	writes   int      // calls of next so far
	payload  []byte   // payload(), made before any timing starts
	off      int      // where the next entry's data starts in payload
	ws       []groupWrite
}

func newWorkload(size, groups, perGroup int, varied bool) *workload {
	return &workload{
		size:     size,
		perGroup: perGroup,
		varied:   varied,
		last:     make([]uint64, groups),
		payload:  payload(),
		ws:       make([]groupWrite, groups),
	}
}

// next returns the next group commit. The returned slice is reused by the
// following call; the entries are not, since a store may keep them.
func (w *workload) next() []groupWrite {
	w.writes++
	// A stable leader keeps its term for long; the test wants a few.
	termWrites := 1 << 20
	if w.varied {
		termWrites = 4
	}
	term := uint64(1 + w.writes/termWrites)
	ents := make([]consensus.Entry, w.perGroup*len(w.last))
	for g := range w.last {
		mine := ents[g*w.perGroup : (g+1)*w.perGroup : (g+1)*w.perGroup]
		for i := range mine {
			w.last[g]++
			e := consensus.Entry{Term: term, Index: w.last[g]}
			n := w.size
			if w.varied {
				e.Type = consensus.EntryType(e.Index % 3)
				n = int(e.Index*37) % (w.size + 1)
			}
			e.Data = w.data(n)
			mine[i] = e
		}
		w.ws[g] = groupWrite{
			group: uint64(g + 1),
			ents:  mine,
			hs:    consensus.HardState{Term: term, Vote: uint64(g%3 + 1), Commit: w.last[g] - 1},
		}
	}
	return w.ws
}

// data returns the next n bytes of payload, wrapping around.
func (w *workload) data(n int) []byte {
	if w.off+n > len(w.payload) {
		w.off = 0
	}
	d := w.payload[w.off : w.off+n : w.off+n]
	w.off += n
	return d
}
