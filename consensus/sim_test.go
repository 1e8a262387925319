package consensus

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The simulation drives whole groups from one seed: a simulated network
// that drops, delays, duplicates and reorders, partitions that come and
// go, disks that are slow and lose unsynced writes on a crash. Safety
// invariants are checked after every step; a failure names its seed, and
// `go test ./consensus -run TestSimulation -sim.seed N -v` replays it.
var (
	simSeed  = flag.Uint64("sim.seed", 0, "run only this simulation seed")
	simSeeds = flag.Int("sim.seeds", simDefaultSeeds, "how many simulation seeds to run")
	simSteps = flag.Int("sim.steps", 3000, "steps per simulation seed")
	simTrace = flag.Bool("sim.trace", false, "print every step of a -sim.seed run")
)

func TestSimulation(t *testing.T) {
	if *simSeed != 0 {
		runSeed(t, *simSeed)
		return
	}
	var total simStats
	for seed := uint64(1); seed <= uint64(*simSeeds); seed++ {
		st, ok := runSeed(t, seed)
		if !ok {
			return
		}
		total.add(st)
	}
	t.Logf("%d seeds: %+v", *simSeeds, total)
	// Not vacuous: the runs did what they are meant to check.
	if total.commits == 0 || total.reads == 0 || total.leaseReads == 0 || total.crashes == 0 || total.snapshots == 0 || total.reconfigs == 0 {
		t.Errorf("vacuous simulation: %+v", total)
	}
}

func runSeed(t *testing.T, seed uint64) (simStats, bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	size := 3
	if seed%2 == 0 {
		size = 5
	}
	s := newSim(t, seed, rng, size)
	s.trace = *simTrace && *simSeed != 0
	if err := s.run(*simSteps); err != nil {
		t.Errorf("seed=%d (%d members): %v\nreplay: go test ./consensus -run TestSimulation -sim.seed %d -sim.trace -v\n%s",
			seed, size, err, seed, s.describe())
		return s.stats, false
	}
	return s.stats, true
}

type simStats struct{ commits, reads, leaseReads, crashes, elections, snapshots, reconfigs int }

func (a *simStats) add(b simStats) {
	a.commits += b.commits
	a.reads += b.reads
	a.leaseReads += b.leaseReads
	a.crashes += b.crashes
	a.elections += b.elections
	a.snapshots += b.snapshots
	a.reconfigs += b.reconfigs
}

// simError is a broken invariant.
type simError struct{ msg string }

func (e simError) Error() string { return e.msg }

func simFail(format string, args ...any) {
	panic(simError{fmt.Sprintf(format, args...)})
}
