package main

// The nemesis: one fault at a time, each healed before the next, on a
// schedule drawn from a seed. The kinds a scenario allows are a menu; the
// schedule goes through the menu in order first (so that a short run has
// the first ones, which the scenario is about) and then through seeded
// shuffles of it. The seed fixes which kinds come in which order,
// which node of its role is hit and how long each fault and pause lasts;
// which node leads at that moment is the cluster's doing.
//
// A paused or isolated node is healed only once its state may be stale
// and it was probed (chaos_probe_test.go): a leader once the others agree
// on a successor, since a paused leader resumed after its successor took
// over, or an isolated leader that clients still reach, is what tests the
// lease. The wait for a successor is bounded generously, and failing it is
// a liveness failure, not a timing assertion. Waits are on timers and the
// run's context; no sleeps.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

type faultKind string

const (
	killRandom      faultKind = "kill-random"      // SIGKILL any node, restart it
	killLeader      faultKind = "kill-leader"      // SIGKILL the leader, restart it
	pauseLeader     faultKind = "pause-leader"     // SIGSTOP the leader until a successor leads, SIGCONT
	pauseFollower   faultKind = "pause-follower"   // SIGSTOP a follower past an election timeout, SIGCONT
	isolateLeader   faultKind = "isolate-leader"   // cut the leader off its peers until a successor leads, heal
	isolateFollower faultKind = "isolate-follower" // cut a follower off its peers, heal
	// SIGSTOP the leader and cut it off until a successor leads, SIGCONT
	// it still cut off, heal later: no message of its successor's tells
	// the resumed leader it was deposed, only its clock can.
	pauseIsolatedLeader faultKind = "pause-isolated-leader"
)

// partitioner cuts a node off its peers, leaving its clients' network be.
type partitioner interface {
	isolate(t *testing.T, n *node)
	heal(t *testing.T, n *node)
}

type nemesis struct {
	t     *testing.T
	c     *cluster
	h     *history
	net   partitioner // nil: no partitions
	keys  keyspace    // for the probes
	rng   *rand.Rand
	count map[faultKind]int
}

func newNemesis(t *testing.T, c *cluster, h *history, net partitioner, keys keyspace, seed uint64) *nemesis {
	return &nemesis{t: t, c: c, h: h, net: net, keys: keys, rng: rand.New(rand.NewPCG(seed, 0x6e656d)), count: map[faultKind]int{}}
}

// run injects faults from menu until ctx ends, then returns with every
// node running, connected and ready.
func (nm *nemesis) run(ctx context.Context, menu []faultKind) {
	next := slices.Clone(menu)
	for {
		if len(next) == 0 {
			next = append(next, menu...)
			nm.rng.Shuffle(len(next), func(i, j int) { next[i], next[j] = next[j], next[i] })
		}
		if !nm.wait(ctx, 500*time.Millisecond, time.Second) {
			return
		}
		nm.checkAlive()
		nm.inject(ctx, next[0])
		next = next[1:]
	}
}

// wait waits a random time in [lo, lo+spread), or until ctx ends; it
// reports whether the whole time passed.
func (nm *nemesis) wait(ctx context.Context, lo, spread time.Duration) bool {
	d := lo + time.Duration(nm.rng.Int64N(int64(spread)))
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// hold is wait for a fault's duration: when ctx ends first, the fault is
// healed all the same.
func (nm *nemesis) hold(ctx context.Context, lo, spread time.Duration) { nm.wait(ctx, lo, spread) }

// inject injects one fault of kind into the cluster, heals it, and waits
// until every node is ready again.
func (nm *nemesis) inject(ctx context.Context, kind faultKind) {
	t := nm.t
	leader, _ := nm.c.leader(t, 20*time.Second)
	var followers []*node
	for _, n := range nm.c.nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	target := leader
	switch kind {
	case killRandom:
		target = nm.c.nodes[nm.rng.IntN(len(nm.c.nodes))]
	case pauseFollower, isolateFollower:
		target = followers[nm.rng.IntN(len(followers))]
	}
	from, healed := nm.h.now(), int64(0)
	t.Logf("%s: %s node %d (leader: node %d)", time.Duration(from).Round(time.Millisecond), kind, target.id, leader.id)
	switch kind {
	case killRandom, killLeader:
		target.kill(t)
		nm.hold(ctx, 300*time.Millisecond, time.Second)
		healed = nm.h.now()
		target.start(t)
	case pauseLeader, pauseFollower:
		nm.signal(target, syscall.SIGSTOP)
		p := nm.probeWhenStale(ctx, kind == pauseLeader, leader, followers, target)
		healed = nm.h.now()
		nm.signal(target, syscall.SIGCONT)
		p.wait()
	case pauseIsolatedLeader:
		nm.signal(target, syscall.SIGSTOP)
		nm.net.isolate(t, target)
		p := nm.probeWhenStale(ctx, true, leader, followers, target)
		healed = nm.h.now()
		nm.signal(target, syscall.SIGCONT)
		nm.hold(ctx, 1200*time.Millisecond, 300*time.Millisecond) // past the 1 s request timeout: the probes are answered while it is cut off
		nm.net.heal(t, target)
		p.wait()
	case isolateLeader, isolateFollower:
		nm.net.isolate(t, target)
		p := nm.probeWhenStale(ctx, kind == isolateLeader, leader, followers, target)
		healed = nm.h.now()
		nm.net.heal(t, target)
		p.wait()
	default:
		t.Fatalf("unknown fault %q", kind)
	}
	for _, n := range nm.c.nodes {
		n.waitReady(t, 30*time.Second)
	}
	nm.h.addFault(faultSpan{string(kind), target.id, from, healed, nm.h.now()})
	nm.count[kind]++
}

// probeWhenStale holds a paused or isolated target until its state may
// be stale, probes it, and holds a little longer. A leader is stale once
// the others elect a successor; a follower once the leader went on
// without it for a while (past an election timeout of 20 to 40 ticks of
// 10 ms, so that a paused follower also misses heartbeats). The probes'
// reads wait on the target within the clients' 2 s: it must be resumed or
// healed before they give up, so the last hold is shorter.
func (nm *nemesis) probeWhenStale(ctx context.Context, wasLeader bool, leader *node, followers []*node, target *node) *probes {
	serving := leader
	if wasLeader {
		serving = nm.awaitSuccessor(followers, target)
	}
	nm.hold(ctx, 500*time.Millisecond, time.Second)
	p := launchProbes(nm.h, nm.keys.registerKeys(nm.h.now()), serving, target)
	nm.hold(ctx, 100*time.Millisecond, 600*time.Millisecond)
	return p
}

func (nm *nemesis) signal(n *node, sig syscall.Signal) {
	if err := n.mustRun(nm.t).cmd.Process.Signal(sig); err != nil {
		nm.t.Fatalf("%v to node %d: %v", sig, n.id, err)
	}
}

// awaitSuccessor waits until the nodes of others agree on a leader
// among them, and returns it.
func (nm *nemesis) awaitSuccessor(others []*node, old *node) *node {
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader, term, seen := agreedLeader(others)
		if leader != 0 {
			nm.t.Logf("%s: node %d leads in term %d in place of node %d", time.Duration(nm.h.now()).Round(time.Millisecond), leader, term, old.id)
			return nm.c.node(leader)
		}
		if time.Now().After(deadline) {
			nm.t.Fatalf("no successor of node %d after 30s: %s", old.id, seen)
		}
		<-time.After(50 * time.Millisecond)
	}
}

// agreedLeader asks each of nodes for its /status once. If they all name
// the same leader, one of them, and it says it leads, it returns it and
// its term; else 0, and what they said.
func agreedLeader(nodes []*node) (leader, term uint64, seen string) {
	var said []string
	states := map[uint64]groupState{}
	agree := true
	for i, n := range nodes {
		st, err := n.status()
		if err != nil {
			said = append(said, fmt.Sprintf("node %d: %v", n.id, err))
			agree = false
			continue
		}
		said = append(said, fmt.Sprintf("node %d: %s of term %d, leader %d", n.id, st.Role, st.Term, st.Leader))
		states[n.id] = st
		if i == 0 {
			leader = st.Leader
		} else if st.Leader != leader {
			agree = false
		}
	}
	if st, ok := states[leader]; agree && ok && st.Role == "leader" {
		return leader, st.Term, ""
	}
	return 0, 0, strings.Join(said, "; ")
}

// checkAlive fails the test if a node ended on its own: a crash.
func (nm *nemesis) checkAlive() {
	for _, n := range nm.c.nodes {
		if done, err := n.exited(); done {
			nm.t.Fatalf("node %d ended by itself: %v\n%s", n.id, err, logExcerpt(n.logPath))
		}
	}
}

// summary is the faults injected, by kind.
func (nm *nemesis) summary() string {
	var parts []string
	total := 0
	for kind, n := range nm.count {
		parts = append(parts, fmt.Sprintf("%s×%d", kind, n))
		total += n
	}
	slices.Sort(parts)
	if total == 0 {
		return "no faults"
	}
	return fmt.Sprintf("%d faults (%s)", total, strings.Join(parts, " "))
}
