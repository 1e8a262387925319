package timewheel

import "fmt"

// The wheel keeps its lists in a slab of nodes linked by index, not in the
// Timers linked by pointer. With pointer links the garbage collector marks
// a bucket's timers one after another, a cache miss each, and at 100k
// pending timers that serial walk dominated: BenchmarkScheduleCancel/wheel
// took 176ns, of which under 40ns was the wheel's own work (wheel-reset,
// which allocates nothing). A slab is scanned linearly, and its one pointer
// per node, to the Timer, lets the collector find all the Timers at once;
// the same benchmark takes 60-70ns, with a Timer of 32 bytes instead of 48.
//
// The slab grows to the largest number of timers pending at once and keeps
// that size: a node is freed when its timer fires or stops, and free nodes
// are reused first, so steady-state scheduling allocates nothing in it.

const (
	chunkBits  = 10 // 1024 nodes of 24 bytes a chunk
	chunkNodes = 1 << chunkBits
)

// node is a timer's place in a list, or a list's sentinel. A list is
// circular through its sentinel; an empty one points at itself.
type node struct {
	due        uint64 // tick the timer fires at
	prev, next uint32 // neighbours in the list; next links the free list
	t          *Timer // owner; nil in sentinels and free nodes
}

type slab struct {
	chunks []*[chunkNodes]node // never moved, so growing copies nothing
	size   uint32              // nodes handed out so far, free ones included
	free   uint32              // first free node; 0, a sentinel, when there is none
}

func (s *slab) at(i uint32) *node { return &s.chunks[i>>chunkBits][i&(chunkNodes-1)] }

// alloc returns a node, unlinked.
func (s *slab) alloc() uint32 {
	if i := s.free; i != 0 {
		s.free = s.at(i).next
		return i
	}
	i := s.size
	if i == 1<<32-1 { // 4 billion pending timers: 200 GiB of them
		panic(fmt.Sprintf("timewheel: %d nodes, the most a wheel can index", i))
	}
	s.size++
	if int(i>>chunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, new([chunkNodes]node))
	}
	return i
}

// release puts unlinked node i on the free list.
func (s *slab) release(i uint32) {
	*s.at(i) = node{next: s.free}
	s.free = i
}

// clear makes sentinel l an empty list.
func (s *slab) clear(l uint32) {
	n := s.at(l)
	n.prev, n.next = l, l
}

// pushBack links node i at the tail of list l.
func (s *slab) pushBack(l, i uint32) {
	sn := s.at(l)
	tail := sn.prev
	s.at(tail).next = i
	n := s.at(i)
	n.prev, n.next = tail, l
	sn.prev = i
}

// unlink removes node i from its list.
func (s *slab) unlink(i uint32) {
	n := s.at(i)
	s.at(n.prev).next = n.next
	s.at(n.next).prev = n.prev
}
