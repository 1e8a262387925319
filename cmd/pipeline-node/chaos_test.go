package main

// The chaos tests (DESIGN.md, "Testing layers"): a 3-node cluster of real
// pipeline-node processes under a workload that records every operation
// while a nemesis kills, pauses or cuts off nodes; then every node is
// healed, every key is read through every node, and Porcupine checks that
// the whole history is linearizable (DESIGN.md, "Invariants": a read
// returns a value at least as new as every write acknowledged before it
// began, follower reads included).
//
// go test runs each scenario for -chaos.duration (12s), -short skips
// them as it does the other end-to-end tests; `make chaos` runs them for
// minutes. A run logs its seed; -chaos.seed N replays its schedule. A
// failed run keeps the visualization of the keys at fault, their
// operations as text and the nodes' logs in -chaos.dir (by default a new
// folder under the temp dir), and names them.

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

var (
	chaosDuration     = flag.Duration("chaos.duration", 12*time.Second, "how long each chaos scenario injects faults")
	chaosSeed         = flag.Uint64("chaos.seed", 0, "the chaos schedule's seed; 0 draws one, which the test logs")
	chaosDir          = flag.String("chaos.dir", "", "where a failed chaos scenario keeps its visualization, history and node logs; empty: a new folder under the temp dir")
	chaosCheckTimeout = flag.Duration("chaos.check-timeout", 5*time.Minute, "how long Porcupine may take over one scenario's history")
)

// A scenario where nearly everything failed proves nothing: it must have
// this many operations answered, and this many writes acknowledged.
const (
	chaosOKMin     = 500
	chaosWritesMin = 100
)

// chaosEpoch is how long the workload uses one set of keys; see keyspace.
const chaosEpoch = 10 * time.Second

var chaosConfigs = []string{"configs/node1.toml", "configs/node2.toml", "configs/node3.toml"}

// TestChaosProcesses: nodes on loopback, killed with SIGKILL (the leader,
// or any node) and restarted on their data, paused with SIGSTOP (the
// leader until a successor leads, or a follower) and resumed. A resumed
// leader must not answer a read from its stale state: its lease ran out
// while it was stopped.
func TestChaosProcesses(t *testing.T) {
	bin := requireE2E(t)
	c := newCluster(t, bin, chaosConfigs)
	runChaos(t, c, nil, []faultKind{pauseLeader, killLeader, pauseFollower, killRandom})
}

// TestChaosPartitions: each node in a network namespace of its own; the
// leader, or a follower, cut off its peers while the clients still reach
// it. The isolated leader must acknowledge no write and serve no read once
// its lease is out, while the others elect a successor; then the
// partition heals. A leader paused, cut off, and resumed still cut off
// hears nothing of its successor: only its clock can tell it its lease
// ran out while it was stopped.
func TestChaosPartitions(t *testing.T) {
	bin := requireE2E(t)
	nn := newNetns(t, len(chaosConfigs))
	c := newClusterAt(t, bin, chaosConfigs, nn.addrs())
	runChaos(t, c, nn, []faultKind{isolateLeader, pauseIsolatedLeader, isolateFollower})
}

// runChaos starts the cluster, runs the workload and the nemesis for
// -chaos.duration, heals, reads every key through every node and checks
// the history.
func runChaos(t *testing.T, c *cluster, net partitioner, menu []faultKind) {
	seed := *chaosSeed
	if seed == 0 {
		seed = 1 + rand.Uint64N(1<<31) // short enough to type; never 0, which draws
	}
	t.Logf("seed %d (replay this schedule with -chaos.seed %d)", seed, seed)
	dir := chaosArtifacts(t, c, seed)
	for _, n := range c.nodes {
		// Requests end within a second, so that clients (2 s) hear the
		// node's -TRYAGAIN or -UNCERTAIN rather than time out.
		n.args = append(n.args, "--client.request-timeout", "1s")
		n.start(t)
	}
	for _, n := range c.nodes {
		n.waitReady(t, 30*time.Second)
	}

	h := newHistory()
	keys := keyspace{registers: 8, counters: 2, epoch: chaosEpoch}
	const perNode = 4
	w := startWorkload(h, c.nodes, keys, perNode, seed)
	t.Cleanup(w.stop)
	ctx, cancel := context.WithTimeout(t.Context(), *chaosDuration)
	defer cancel()
	nm := newNemesis(t, c, h, net, keys, seed)
	nm.run(ctx, menu)
	w.stop()

	nm.checkAlive()
	for _, n := range c.nodes {
		n.waitReady(t, 30*time.Second)
	}
	recs, _ := h.records()
	finalReads(t, h, c, keysOf(recs))

	took := time.Duration(h.now())
	recs, faults := h.records()
	res, err := checkHistory(recs, faults, *chaosCheckTimeout, dir)
	if err != nil {
		t.Fatal(err)
	}
	counts, okOps, okWrites := countOps(recs)
	t.Logf("%s: seed %d, %s: %s; %s; check %s in %s (%d operations on %d keys)",
		t.Name(), seed, took.Round(100*time.Millisecond), counts, nm.summary(),
		res.result, res.elapsed.Round(time.Millisecond), res.ops, res.keys)
	t.Logf("errors: %s", errorKinds(recs))
	for _, f := range faults {
		t.Logf("fault %s; operations through it in flight when healed: %s", f, inFlight(recs, f))
	}
	switch {
	case res.result == porcupine.Illegal:
		t.Fatalf("not linearizable: keys %s; Porcupine's visualization: %s (the keys' operations: %s)",
			strings.Join(res.bad, ", "), res.viz, strings.TrimSuffix(res.viz, ".html")+".txt")
	case res.result == porcupine.Unknown:
		t.Fatalf("Porcupine did not finish within -chaos.check-timeout %s, keys %s unchecked", *chaosCheckTimeout, strings.Join(res.slow, ", "))
	case okOps < chaosOKMin || okWrites < chaosWritesMin:
		t.Fatalf("too little succeeded to prove anything: %d operations answered (want %d), %d writes acknowledged (want %d)",
			okOps, chaosOKMin, okWrites, chaosWritesMin)
	case len(faults) == 0:
		t.Fatalf("the nemesis injected no fault in %s", *chaosDuration)
	}
}

// finalReads reads every key through every node, plain and READONLY, into
// the history, trying a failed read again (it changes nothing) for up to
// 30 s: the cluster is whole again, so it must answer.
func finalReads(t *testing.T, h *history, c *cluster, keys []string) {
	t.Helper()
	for _, n := range c.nodes {
		for _, readonly := range []bool{false, true} {
			client := h.newClient()
			rdb := newChaosClient(n.client, readonly)
			via := fmt.Sprintf("n%d final", n.id)
			if readonly {
				via = fmt.Sprintf("n%d READONLY final", n.id)
			}
			for _, k := range keys {
				deadline := time.Now().Add(30 * time.Second)
				for {
					r := doOp(h, rdb, client, n.id, via, kvInput{Kind: opGet, Key: k})
					if r.fate == fateOK {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("final GET %s through %s still fails after 30s: %s", k, via, r.err)
					}
					<-time.After(50 * time.Millisecond)
				}
			}
			rdb.Close()
		}
	}
}

// keysOf returns the keys recs name, sorted.
func keysOf(recs []opRecord) []string {
	keys := map[string]bool{}
	for _, r := range recs {
		keys[r.in.Key] = true
	}
	return slices.Sorted(maps.Keys(keys))
}

// chaosArtifacts returns a new folder, in -chaos.dir or the temp dir,
// where a failure leaves its evidence; if the test fails, the nodes' logs
// and the seed are copied there too, else the folder is removed.
func chaosArtifacts(t *testing.T, c *cluster, seed uint64) string {
	t.Helper()
	parent := *chaosDir
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("%s-seed%d-", strings.ReplaceAll(t.Name(), "/", "_"), seed))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
			return
		}
		os.WriteFile(filepath.Join(dir, "seed"), fmt.Appendf(nil, "%d\n", seed), 0o644)
		for _, n := range c.nodes {
			if b, err := os.ReadFile(n.logPath); err == nil {
				os.WriteFile(filepath.Join(dir, filepath.Base(n.logPath)), b, 0o644)
			}
		}
		t.Logf("chaos evidence kept in %s (seed %d)", dir, seed)
	})
	return dir
}

// countOps describes the operations by kind and fate; it returns too how
// many were answered, and how many writes acknowledged.
func countOps(recs []opRecord) (desc string, ok, okWrites int) {
	var n [3][3]int // [kind][fate]
	for _, r := range recs {
		n[r.in.Kind][r.fate]++
		if r.fate == fateOK {
			ok++
			if r.in.Kind != opGet {
				okWrites++
			}
		}
	}
	return describeFates(n, false), ok, okWrites
}

// describeFates writes counts by kind and fate ([kind][fate]), leaving
// out the kinds with none when sparse is set; "none" if nothing is left.
func describeFates(n [3][3]int, sparse bool) string {
	var parts []string
	for k := range n {
		if !sparse || n[k] != [3]int{} {
			parts = append(parts, fmt.Sprintf("%s %d ok/%d unknown/%d failed", opKind(k), n[k][fateOK], n[k][fateUnknown], n[k][fateFailed]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// errorKinds counts the errors by operation, fate and kind.
func errorKinds(recs []opRecord) string {
	counts := map[string]int{}
	for _, r := range recs {
		if r.fate != fateOK {
			counts[fmt.Sprintf("%s %s: %s", r.in.Kind, r.fate, r.err)]++
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, counts[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// inFlight describes the operations through a fault's node that were
// called before it healed and answered after: requests a paused node took
// up on resuming, or an isolated one answered on rejoining. Those are the
// reads a stale lease would answer wrongly; the count shows the scenario
// had some.
func inFlight(recs []opRecord, f faultSpan) string {
	var n [3][3]int
	for _, r := range recs {
		if r.node == f.node && r.call < f.healed && r.ret > f.healed {
			n[r.in.Kind][r.fate]++
		}
	}
	return describeFates(n, true)
}
