//go:build linux

package main

// Network namespaces for the partition scenario: each node in one of its
// own, with two links.
//
//   - The peer network, 10.77.0.0/24: a veth from the node's namespace to
//     a bridge in a "hub" namespace of the run. Isolating a node takes its
//     hub-side end off the bridge: its packets to peers, and theirs to it,
//     vanish without an error, as in a real partition (no refused
//     connection, no unreachable route; TCP retransmits into the void).
//     Setting the link down would do too, but shows the node a link
//     failure; iptables and netem are not on every machine.
//   - The client network: a /30 per node from a /24 of 10.79.0.0/16 free
//     in the root namespace, a veth from the root namespace. The test's
//     clients, in the root namespace, reach every node, cut off or not,
//     so that an isolated leader still gets requests it must not answer
//     from a stale state.
//
// Names carry the test binary's pid: rpchaos-PID-hub, rpchaos-PID-nN and
// rpcPIDcN (the root end, at most 15 bytes). Cleanup deletes them; leftovers
// of a run that died (its pid gone) are deleted when the next run starts.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const nsPrefix = "rpchaos-"

type netns struct {
	ip    string
	hub   string
	nodes []nsNode
}

type nsNode struct {
	ns      string
	hubPort string // the hub end of the node's peer veth
	rootEnd string // the root end of its client veth
	addrs   nodeAddrs
}

// newNetns creates the namespaces of n nodes, or skips the test when this
// machine cannot (not root, no ip, no network namespaces).
func newNetns(t *testing.T, n int) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partitions: network namespaces need root")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		for _, p := range []string{"/usr/sbin/ip", "/sbin/ip"} {
			if _, err2 := os.Stat(p); err2 == nil {
				ip, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Skip("partitions: no ip command (iproute2)")
	}
	removeStaleNetns(t, ip)
	pid := os.Getpid()
	nn := &netns{ip: ip, hub: fmt.Sprintf("%s%d-hub", nsPrefix, pid)}
	if out, err := exec.Command(ip, "netns", "add", nn.hub).CombinedOutput(); err != nil {
		t.Skipf("partitions: cannot create a network namespace (needs CAP_SYS_ADMIN): ip netns add: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { nn.remove(t) })
	nn.run(t, "-n", nn.hub, "link", "set", "lo", "up")
	nn.run(t, "-n", nn.hub, "link", "add", "name", "br0", "type", "bridge")
	nn.run(t, "-n", nn.hub, "link", "set", "br0", "up")
	block := freeClientBlock(t, ip)
	for i := range n {
		id := i + 1
		nd := nsNode{
			ns:      fmt.Sprintf("%s%d-n%d", nsPrefix, pid, id),
			hubPort: fmt.Sprintf("hp%d", id),
			rootEnd: fmt.Sprintf("rpc%dc%d", pid, id),
		}
		peerIP := fmt.Sprintf("10.77.0.%d", id)
		rootIP := fmt.Sprintf("10.79.%d.%d", block, 4*id+1)
		clientIP := fmt.Sprintf("10.79.%d.%d", block, 4*id+2)
		nd.addrs = nodeAddrs{
			peer:   peerIP + ":7001",
			client: clientIP + ":6380",
			http:   clientIP + ":8080",
			wrap:   []string{ip, "netns", "exec", nd.ns},
		}
		nn.run(t, "netns", "add", nd.ns)
		nn.nodes = append(nn.nodes, nd)
		nn.run(t, "-n", nd.ns, "link", "set", "lo", "up")
		// The peer link, to the hub's bridge.
		nn.run(t, "-n", nd.ns, "link", "add", "name", "peer0", "type", "veth", "peer", "name", nd.hubPort, "netns", nn.hub)
		nn.run(t, "-n", nd.ns, "addr", "add", peerIP+"/24", "dev", "peer0")
		nn.run(t, "-n", nd.ns, "link", "set", "peer0", "up")
		nn.run(t, "-n", nn.hub, "link", "set", nd.hubPort, "master", "br0")
		nn.run(t, "-n", nn.hub, "link", "set", nd.hubPort, "up")
		// The client link, to the root namespace.
		nn.run(t, "link", "add", "name", nd.rootEnd, "type", "veth", "peer", "name", "client0", "netns", nd.ns)
		nn.run(t, "addr", "add", rootIP+"/30", "dev", nd.rootEnd)
		nn.run(t, "link", "set", nd.rootEnd, "up")
		nn.run(t, "-n", nd.ns, "addr", "add", clientIP+"/30", "dev", "client0")
		nn.run(t, "-n", nd.ns, "link", "set", "client0", "up")
	}
	return nn
}

// addrs are the nodes' addresses, to give newClusterAt.
func (nn *netns) addrs() []nodeAddrs {
	var out []nodeAddrs
	for _, nd := range nn.nodes {
		out = append(out, nd.addrs)
	}
	return out
}

func (nn *netns) isolate(t *testing.T, n *node) {
	nn.run(t, "-n", nn.hub, "link", "set", nn.nodes[n.id-1].hubPort, "nomaster")
}

func (nn *netns) heal(t *testing.T, n *node) {
	nn.run(t, "-n", nn.hub, "link", "set", nn.nodes[n.id-1].hubPort, "master", "br0")
}

func (nn *netns) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(nn.ip, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

// remove deletes the run's namespaces, which takes the veths in them, and
// their root ends, along. It runs after the nodes were killed (a namespace
// with a process in it would outlive its name).
func (nn *netns) remove(t *testing.T) {
	for _, nd := range nn.nodes {
		if out, err := exec.Command(nn.ip, "netns", "del", nd.ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", nd.ns, err, out)
		}
		exec.Command(nn.ip, "link", "del", nd.rootEnd).Run() // gone with its peer already, normally
	}
	if out, err := exec.Command(nn.ip, "netns", "del", nn.hub).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v: %s", nn.hub, err, out)
	}
}

var (
	staleNetns = regexp.MustCompile(`^` + nsPrefix + `(\d+)-`)
	staleLink  = regexp.MustCompile(`^rpc(\d+)c\d+$`)
)

// removeStaleNetns deletes the namespaces and root-end veths of runs whose
// process is gone, or that carry this process's pid (a dead run's, reused).
func removeStaleNetns(t *testing.T, ip string) {
	stale := func(m []string) bool {
		if m == nil {
			return false
		}
		pid, _ := strconv.Atoi(m[1])
		return pid == os.Getpid() || syscall.Kill(pid, 0) == syscall.ESRCH
	}
	out, _ := exec.Command(ip, "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && stale(staleNetns.FindStringSubmatch(f[0])) {
			t.Logf("deleting network namespace %s, left by an earlier run", f[0])
			exec.Command(ip, "netns", "del", f[0]).Run()
		}
	}
	out, _ = exec.Command(ip, "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line) // "12: rpc123c1@if2: <...> ..."
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if stale(staleLink.FindStringSubmatch(name)) {
			t.Logf("deleting link %s, left by an earlier run", name)
			exec.Command(ip, "link", "del", name).Run()
		}
	}
}

// freeClientBlock picks B such that no address of 10.79.B.0/24 is in use
// in the root namespace.
func freeClientBlock(t *testing.T, ip string) int {
	out, err := exec.Command(ip, "-4", "-o", "addr", "show").Output()
	if err != nil {
		t.Fatalf("ip -4 -o addr show: %v", err)
	}
	for range 1000 {
		b := rand.IntN(256)
		if !strings.Contains(string(out), fmt.Sprintf(" 10.79.%d.", b)) {
			return b
		}
	}
	t.Fatal("no free /24 in 10.79.0.0/16 for the nodes' client links")
	return 0
}
