package logstore

import "github.com/raftpipe/raftpipe/consensus"

// entryCache keeps a group's most recent entries, a contiguous suffix of
// its log, within a byte budget. Slices handed out by get and slice stay
// valid: an overwrite copies the kept prefix to a new array instead of
// writing where a reader may look.
type entryCache struct {
	ents  []consensus.Entry // ents[0] has index first; empty when nothing is cached
	bytes int64
}

// entryBytes is what one cached entry costs in memory.
func entryBytes(e *consensus.Entry) int64 { return int64(len(e.Data)) + 48 }

func (c *entryCache) first() uint64 {
	if len(c.ents) == 0 {
		return 0
	}
	return c.ents[0].Index
}

func (c *entryCache) get(i uint64) (*consensus.Entry, bool) {
	f := c.first()
	if f == 0 || i < f || i-f >= uint64(len(c.ents)) {
		return nil, false
	}
	return &c.ents[i-f], true
}

// slice returns the cached entries in [lo, hi), or false if lo is not
// cached.
func (c *entryCache) slice(lo, hi uint64) ([]consensus.Entry, bool) {
	f := c.first()
	if f == 0 || lo < f || lo-f >= uint64(len(c.ents)) {
		return nil, false
	}
	to := min(uint64(len(c.ents)), hi-f)
	return c.ents[lo-f : to : to], true
}

// append adds ents, which follow the cached ones (or start a new suffix),
// then evicts the oldest entries beyond max bytes.
func (c *entryCache) append(ents []consensus.Entry, max int64) {
	if len(c.ents) > 0 && c.ents[len(c.ents)-1].Index+1 != ents[0].Index {
		c.reset()
	}
	for i := range ents {
		c.bytes += entryBytes(&ents[i])
	}
	c.ents = append(c.ents, ents...)
	drop := 0
	for drop < len(c.ents) && c.bytes > max {
		c.bytes -= entryBytes(&c.ents[drop])
		drop++
	}
	if drop > 0 {
		c.dropFront(drop)
	}
}

func (c *entryCache) dropFront(n int) {
	// No clear: a reader may still hold these. The array is copied once
	// mostly dead, which lets the dropped entries' data go.
	c.ents = c.ents[n:]
	if len(c.ents) == 0 {
		c.ents = nil
	} else if cap(c.ents) > 4*len(c.ents)+64 {
		c.ents = append([]consensus.Entry(nil), c.ents...)
	}
}

func (c *entryCache) truncateFrom(i uint64) {
	f := c.first()
	switch {
	case f == 0 || i > c.ents[len(c.ents)-1].Index:
		return
	case i <= f:
		c.reset()
		return
	}
	kept := c.ents[:i-f]
	c.bytes = 0
	for k := range kept {
		c.bytes += entryBytes(&kept[k])
	}
	c.ents = append([]consensus.Entry(nil), kept...)
}

func (c *entryCache) compactTo(i uint64) {
	f := c.first()
	switch {
	case f == 0 || i < f:
		return
	case i >= c.ents[len(c.ents)-1].Index:
		c.reset()
		return
	}
	n := int(i - f + 1)
	for k := range n {
		c.bytes -= entryBytes(&c.ents[k])
	}
	c.dropFront(n)
}

func (c *entryCache) reset() { c.ents, c.bytes = nil, 0 }
