//go:build race

package consensus

// The race detector slows the simulation tenfold and it starts no
// goroutines to race; CI runs a sample under it, `go test` the full set.
const simDefaultSeeds = 50
