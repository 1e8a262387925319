package workload

import (
	"fmt"
	"time"
)

// WaitConverged polls applied, the number of entries each replica of each
// group has applied ([group][replica]), until every replica of a group has
// applied the same number and the groups together have applied at least
// minTotal (the writes acknowledged to clients, counted once per group), or
// timeout passes. It returns the last counts seen.
func WaitConverged(applied func() [][]uint64, minTotal uint64, timeout time.Duration) ([][]uint64, error) {
	deadline := time.Now().Add(timeout)
	for {
		counts := applied()
		if ok, total := converged(counts); ok && total >= minTotal {
			return counts, nil
		}
		if time.Now().After(deadline) {
			return counts, fmt.Errorf("replicas did not converge within %v (want at least %d applied in all): %v",
				timeout, minTotal, counts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// converged reports whether every replica of each group applied as many
// entries as the group's first replica, and the total over groups.
func converged(counts [][]uint64) (bool, uint64) {
	var total uint64
	for _, g := range counts {
		if len(g) == 0 {
			return false, 0
		}
		for _, n := range g[1:] {
			if n != g[0] {
				return false, 0
			}
		}
		total += g[0]
	}
	return true, total
}
