package kv

// Router maps a key to the Raft group that holds it. It is the one place
// the service decides where a key lives: today one region holds the whole
// key space (SingleRegion); range-sharded regions that split will answer
// here, and nothing above needs to change.
type Router interface {
	// GroupOf returns the group holding key.
	GroupOf(key []byte) uint64
	// Groups lists every group of the key space, ascending.
	Groups() []uint64
}

// SingleRegion is the whole key space in one group.
type SingleRegion struct{ Group uint64 }

// GroupOf returns r.Group.
func (r SingleRegion) GroupOf([]byte) uint64 { return r.Group }

// Groups returns r.Group alone.
func (r SingleRegion) Groups() []uint64 { return []uint64{r.Group} }
