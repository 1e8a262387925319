package main

// The end-to-end tests (TestE2E*) run the real pipeline-node binary: a
// 3-node cluster from configs/node1.toml to node3.toml on loopback, driven
// by go-redis, killed with SIGKILL, stopped with SIGTERM, scraped by a real
// Prometheus. They take seconds, not milliseconds, so -short skips them.
//
// The nodes keep the configs' settings except their listen addresses:
// each run takes nine ports, chosen at random below the kernel's ephemeral
// range and checked free, and passes them as flags (--peer-listen,
// --client-listen, --http-listen, --initial-cluster). The configs' fixed
// ports would collide with a `make cluster` or a second test run on the
// same machine; a port above 32767 could be handed to an outgoing
// connection while its node is down for a restart.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	redis.SetLogger(discardRedisLog{}) // its pool's reconnect chatter while a node is down
	code := m.Run()
	if e2eBuild.dir != "" {
		os.RemoveAll(e2eBuild.dir)
	}
	os.Exit(code)
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// e2eBuild is the binary the end-to-end tests run: built once per test
// binary, on first use, removed by TestMain.
var e2eBuild struct {
	once sync.Once
	root string // the module's root
	dir  string
	bin  string
	err  error
}

// requireE2E skips the test under -short and returns the binary.
func requireE2E(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts pipeline-node processes; skipped with -short")
	}
	e2eBuild.once.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			e2eBuild.err = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		e2eBuild.root = filepath.Dir(strings.TrimSpace(string(gomod)))
		if e2eBuild.dir, err = os.MkdirTemp("", "pipeline-node-e2e-"); err != nil {
			e2eBuild.err = err
			return
		}
		bin := filepath.Join(e2eBuild.dir, "pipeline-node")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/pipeline-node")
		cmd.Dir = e2eBuild.root
		if out, err := cmd.CombinedOutput(); err != nil {
			e2eBuild.err = fmt.Errorf("go build ./cmd/pipeline-node: %w\n%s", err, out)
			return
		}
		e2eBuild.bin = bin
	})
	if e2eBuild.err != nil {
		t.Fatal(e2eBuild.err)
	}
	return e2eBuild.bin
}

// repoFile is a path in the module, such as configs/node1.toml.
func repoFile(name string) string { return filepath.Join(e2eBuild.root, filepath.FromSlash(name)) }

// freePorts returns n distinct loopback ports that were free a moment ago,
// from [20000, 32768): below Linux's ephemeral range, so no outgoing
// connection is given one of them.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("found only %d free loopback ports in [20000, 32768) after 1000 tries", len(ports))
		}
		p := 20000 + rand.IntN(12768)
		if slices.Contains(ports, p) {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		ports = append(ports, p)
	}
	return ports
}

// cluster is pipeline-node processes sharing one working directory, so
// that each config's data-dir (./pipeline-data/nodeN) lands in it.
type cluster struct {
	bin   string
	dir   string
	nodes []*node // nodes[i] has ID i+1
}

// node is one pipeline-node: how to start it, and its process when it runs.
type node struct {
	c                  *cluster
	id                 uint64
	wrap               []string // the command the binary runs under (ip netns exec NS), if any; it must exec in place
	args               []string
	peer, client, http string
	logPath            string
	starts             int

	proc    *proc
	rdb, ro *redis.Client // a plain connection pool, and one whose connections said READONLY
}

// proc is a started process; err is cmd.Wait's once done is closed.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// newCluster prepares one node per config (IDs 1, 2, ...; each config's id
// must match), with fresh ports. Cleanup kills every process still
// running, then prints the logs if the test failed.
func newCluster(t *testing.T, bin string, configs []string) *cluster {
	t.Helper()
	ports := freePorts(t, 3*len(configs))
	addrs := make([]nodeAddrs, len(configs))
	for i := range addrs {
		addrs[i] = nodeAddrs{
			peer:   fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			client: fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
			http:   fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
		}
	}
	return newClusterAt(t, bin, configs, addrs)
}

// nodeAddrs are a node's listen addresses; wrap, if set, is the command
// the node runs under.
type nodeAddrs struct {
	peer, client, http string
	wrap               []string
}

// newClusterAt is newCluster with the nodes' addresses given, addrs[i]
// for node i+1: the chaos tests put each node in a network namespace of
// its own.
func newClusterAt(t *testing.T, bin string, configs []string, addrs []nodeAddrs) *cluster {
	t.Helper()
	c := &cluster{bin: bin, dir: t.TempDir()}
	var members []string
	for i := range configs {
		members = append(members, fmt.Sprintf("%d=%s", i+1, addrs[i].peer))
	}
	for i, cfg := range configs {
		n := &node{
			c: c, id: uint64(i + 1),
			wrap:    addrs[i].wrap,
			peer:    addrs[i].peer,
			client:  addrs[i].client,
			http:    addrs[i].http,
			logPath: filepath.Join(c.dir, fmt.Sprintf("node%d.log", i+1)),
		}
		n.args = []string{"--config", repoFile(cfg),
			"--peer-listen", n.peer, "--client-listen", n.client, "--http-listen", n.http,
			"--initial-cluster", strings.Join(members, ",")}
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.nodes {
				t.Logf("node %d's log (%s):\n%s", n.id, n.logPath, logExcerpt(n.logPath))
			}
		}
	})
	t.Cleanup(c.killAll)
	return c
}

// startCluster starts the 3-node cluster of configs/node1.toml to
// node3.toml and waits until every node is ready.
func startCluster(t *testing.T, bin string) *cluster {
	t.Helper()
	c := newCluster(t, bin, []string{"configs/node1.toml", "configs/node2.toml", "configs/node3.toml"})
	for _, n := range c.nodes {
		n.start(t)
	}
	for _, n := range c.nodes {
		n.waitReady(t, 30*time.Second)
	}
	return c
}

func (c *cluster) killAll() {
	for _, n := range c.nodes {
		n.closeClients()
		if p := n.proc; p != nil {
			p.cmd.Process.Kill()
			<-p.done
			n.proc = nil
		}
	}
}

// running returns the nodes whose process runs.
func (c *cluster) running() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.proc != nil {
			out = append(out, n)
		}
	}
	return out
}

func (c *cluster) node(id uint64) *node { return c.nodes[id-1] }

// start starts the node's process, its output appended to its log.
func (n *node) start(t *testing.T) {
	t.Helper()
	if n.proc != nil {
		t.Fatalf("node %d already runs", n.id)
	}
	f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the child has its own descriptor
	n.starts++
	fmt.Fprintf(f, "=== e2e: start %d of node %d: %s\n", n.starts, n.id, strings.Join(slices.Concat(n.wrap, []string{"pipeline-node"}, n.args), " "))
	argv := slices.Concat(n.wrap, []string{n.c.bin}, n.args)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = n.c.dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %d: %v", n.id, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.proc = p
}

// kill sends SIGKILL and waits for the process to go.
func (n *node) kill(t *testing.T) {
	t.Helper()
	n.closeClients()
	p := n.mustRun(t)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL node %d: %v", n.id, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("node %d still runs 10s after SIGKILL", n.id)
	}
	n.proc = nil
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("node %d ended with %v, not by SIGKILL", n.id, p.err)
	}
}

// stop sends SIGTERM and returns the exit code; the node must exit
// within bound.
func (n *node) stop(t *testing.T, bound time.Duration) int {
	t.Helper()
	n.closeClients()
	p := n.mustRun(t)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM node %d: %v", n.id, err)
	}
	select {
	case <-p.done:
	case <-time.After(bound):
		t.Fatalf("node %d still runs %s after SIGTERM", n.id, bound)
	}
	n.proc = nil
	return p.cmd.ProcessState.ExitCode()
}

func (n *node) mustRun(t *testing.T) *proc {
	t.Helper()
	if n.proc == nil {
		t.Fatalf("node %d does not run", n.id)
	}
	return n.proc
}

// exited reports whether the process ended, and how.
func (n *node) exited() (bool, error) {
	if n.proc == nil {
		return true, errors.New("not started")
	}
	select {
	case <-n.proc.done:
		return true, n.proc.err
	default:
		return false, nil
	}
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

func (n *node) get(path string) (int, []byte, error) {
	resp, err := httpClient.Get("http://" + n.http + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// waitReady polls /readyz until 200. A node that exits first (a port
// taken, a bad config) fails the test with its exit status and log.
func (n *node) waitReady(t *testing.T, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	last := "no answer yet"
	for {
		if done, err := n.exited(); done {
			t.Fatalf("node %d exited before it was ready: %v\n%s", n.id, err, logExcerpt(n.logPath))
		}
		code, body, err := n.get("/readyz")
		if err == nil && code == http.StatusOK {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d %s", code, bytes.TrimSpace(body))
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d not ready after %s: /readyz: %s", n.id, bound, last)
		}
		<-time.After(50 * time.Millisecond)
	}
}

// groupState is a group's entry in GET /status (server/admin).
type groupState struct {
	Group   uint64 `json:"group"`
	Role    string `json:"role"`
	Term    uint64 `json:"term"`
	Leader  uint64 `json:"leader"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
}

// status returns the node's state of its one group (the configs' nodes
// run a single region).
func (n *node) status() (groupState, error) {
	code, body, err := n.get("/status")
	if err != nil {
		return groupState{}, err
	}
	if code != http.StatusOK {
		return groupState{}, fmt.Errorf("/status: %d %s", code, bytes.TrimSpace(body))
	}
	var st struct {
		Node   uint64       `json:"node"`
		Groups []groupState `json:"groups"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return groupState{}, fmt.Errorf("/status: %w: %s", err, body)
	}
	if st.Node != n.id || len(st.Groups) != 1 {
		return groupState{}, fmt.Errorf("/status of node %d: want node %d with one group: %s", n.id, n.id, body)
	}
	return st.Groups[0], nil
}

// leader waits until every running node names the same leader, and that
// node says it leads; it returns the leader and its term.
func (c *cluster) leader(t *testing.T, bound time.Duration) (*node, uint64) {
	t.Helper()
	deadline := time.Now().Add(bound)
	var last []string
	for {
		last = last[:0]
		agreed := uint64(0)
		var term uint64
		for i, n := range c.running() {
			st, err := n.status()
			if err != nil {
				last = append(last, fmt.Sprintf("node %d: %v", n.id, err))
				agreed = 0
				break
			}
			last = append(last, fmt.Sprintf("node %d: %s, term %d, leader %d", n.id, st.Role, st.Term, st.Leader))
			if i == 0 {
				agreed = st.Leader
			} else if st.Leader != agreed {
				agreed = 0
			}
			if n.id == st.Leader && st.Role == "leader" {
				term = st.Term
			}
		}
		if agreed != 0 && term != 0 && agreed <= uint64(len(c.nodes)) {
			return c.node(agreed), term
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader all running nodes agree on after %s: %s", bound, strings.Join(last, "; "))
		}
		<-time.After(50 * time.Millisecond)
	}
}

// redis returns a client of the node's Redis port: reads on it are
// linearizable reads served by the leader.
func (n *node) redis() *redis.Client {
	if n.rdb == nil {
		n.rdb = newRedisClient(n.client, false)
	}
	return n.rdb
}

// readonly returns a client whose connections said READONLY: reads on it
// are follower reads, served from this node's own state machine.
func (n *node) readonly() *redis.Client {
	if n.ro == nil {
		n.ro = newRedisClient(n.client, true)
	}
	return n.ro
}

func (n *node) closeClients() {
	for _, c := range []**redis.Client{&n.rdb, &n.ro} {
		if *c != nil {
			(*c).Close()
			*c = nil
		}
	}
}

func newRedisClient(addr string, readonly bool) *redis.Client {
	opts := &redis.Options{
		Addr: addr,
		// Retries are the test's to make and count: a write is recorded
		// as acknowledged only if its own reply said OK.
		MaxRetries:  -1,
		DialTimeout: 2 * time.Second,
		// Above the configs' client.request-timeout (5s), so the node's
		// -TRYAGAIN arrives before the client gives up.
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		PoolSize:     16,
	}
	if readonly {
		opts.OnConnect = func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }
	}
	return redis.NewClient(opts)
}

// tryAgain reports whether err is the node's "not now" (-TRYAGAIN: no
// leader known, a leader change, the cluster did not answer in time).
func tryAgain(err error) bool { return redis.IsTryAgainError(err) }

// uncertain reports whether err is the node's "this write may or may not
// have been applied" (-UNCERTAIN). The tests' writes are SETs of a key
// written once to one value, so trying one again is safe.
func uncertain(err error) bool { return redis.HasErrorPrefix(err, "UNCERTAIN") }

// retry runs op until it succeeds, fails with an error again does not
// accept, or bound passes; it returns op's last error and the number of
// errors it retried.
func retry(bound time.Duration, again func(error) bool, op func(ctx context.Context) error) (int, error) {
	deadline := time.Now().Add(bound)
	for tries := 0; ; tries++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := op(ctx)
		cancel()
		if err == nil || !again(err) || time.Now().After(deadline) {
			return tries, err
		}
		<-time.After(25 * time.Millisecond)
	}
}

// retryWrite accepts -TRYAGAIN and -UNCERTAIN: see uncertain.
func retryWrite(err error) bool { return tryAgain(err) || uncertain(err) }

// acks records every write a node acknowledged, to check at the end that
// none was lost. Every key is written once (retries repeat its value), so
// each key has one value whatever happened to the attempts that failed.
type acks struct {
	mu   sync.Mutex
	vals map[string]string
	last string // the key acknowledged last
}

func newAcks() *acks { return &acks{vals: map[string]string{}} }

func (a *acks) add(key, val string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.vals[key] = val
	a.last = key
}

func (a *acks) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.vals)
}

func (a *acks) lastWrite() (string, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last, a.vals[a.last]
}

func (a *acks) sorted() ([]string, map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := make([]string, 0, len(a.vals))
	for k := range a.vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, maps.Clone(a.vals)
}

// set writes key=val through w, retrying -TRYAGAIN within bound, and
// records the acknowledgement.
func set(t *testing.T, w *node, a *acks, key, val string, bound time.Duration) {
	t.Helper()
	tries, err := retry(bound, retryWrite, func(ctx context.Context) error { return w.redis().Set(ctx, key, val, 0).Err() })
	if err != nil {
		t.Fatalf("SET %s through node %d: %v (after %d tries answered -TRYAGAIN or -UNCERTAIN)", key, w.id, err, tries)
	}
	a.add(key, val)
}

// expectGet reads key through rdb (described by via), retrying -TRYAGAIN
// within bound, and fails unless it returns want.
func expectGet(t *testing.T, rdb *redis.Client, via, key, want string, bound time.Duration) {
	t.Helper()
	var got string
	_, err := retry(bound, tryAgain, func(ctx context.Context) error {
		var err error
		got, err = rdb.Get(ctx, key).Result()
		return err
	})
	switch {
	case errors.Is(err, redis.Nil):
		t.Fatalf("GET %s %s: nil, want %q written and acknowledged before the read", key, via, want)
	case err != nil:
		t.Fatalf("GET %s %s: %v", key, via, err)
	case got != want:
		t.Fatalf("GET %s %s: %q, want %q", key, via, got, want)
	}
}

// checkAcked reads every acknowledged key through n, with MGETs of 256
// keys, and fails listing the writes that are missing or wrong.
func checkAcked(t *testing.T, a *acks, n *node, readonly bool) {
	t.Helper()
	rdb, via := n.redis(), fmt.Sprintf("node %d (linearizable, via the leader)", n.id)
	if readonly {
		rdb, via = n.readonly(), fmt.Sprintf("node %d (READONLY: its own state machine)", n.id)
	}
	keys, want := a.sorted()
	var bad []string
	lost := 0
	for chunk := range slices.Chunk(keys, 256) {
		var vals []any
		_, err := retry(20*time.Second, tryAgain, func(ctx context.Context) error {
			var err error
			vals, err = rdb.MGet(ctx, chunk...).Result()
			return err
		})
		if err != nil {
			t.Fatalf("MGET of %d acknowledged keys through %s: %v", len(chunk), via, err)
		}
		for i, k := range chunk {
			got, ok := vals[i].(string)
			if !ok || got != want[k] {
				lost++
				if len(bad) < 10 {
					bad = append(bad, fmt.Sprintf("%s=%v (want %q)", k, vals[i], want[k]))
				}
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes lost or wrong through %s, such as: %s", lost, len(keys), via, strings.Join(bad, ", "))
	}
}

// load writes unique keys through every running node and reads each one
// back at once, in turn through each other node's linearizable client and
// READONLY client. It counts acknowledgements per node, the failures by
// the node that served the request and their kind, and any read that
// missed its acknowledged write (a linearizability violation).
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	acked  map[uint64]*atomic.Int64

	mu         sync.Mutex
	errs       map[loadErr]int
	violations []string
}

// loadErr is a kind of failure at one node.
type loadErr struct {
	node uint64 // the node that served the request
	op   string // SET, GET or GET READONLY
	kind string // TRYAGAIN, UNCERTAIN, BUSY, connection, or the error
}

// loadClient is one of the load's Redis clients.
type loadClient struct {
	node     uint64
	readonly bool
	rdb      *redis.Client
}

func (lc loadClient) String() string {
	if lc.readonly {
		return fmt.Sprintf("node %d READONLY", lc.node)
	}
	return fmt.Sprintf("node %d", lc.node)
}

func startLoad(c *cluster, a *acks, prefix string, writersPerNode int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, acked: map[uint64]*atomic.Int64{}, errs: map[loadErr]int{}}
	nodes := c.running()
	for _, w := range nodes {
		acked := new(atomic.Int64)
		l.acked[w.id] = acked // the map is complete before startLoad returns; the writers use their counter
		var readers []loadClient
		for _, r := range nodes {
			if r != w || len(nodes) == 1 {
				readers = append(readers, loadClient{r.id, false, r.redis()}, loadClient{r.id, true, r.readonly()})
			}
		}
		writer := loadClient{w.id, false, w.redis()}
		for k := range writersPerNode {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				for seq := 0; ctx.Err() == nil; seq++ {
					key := fmt.Sprintf("%s-n%d-w%d-%06d", prefix, w.id, k, seq)
					val := fmt.Sprintf("%s@%d", key, time.Now().UnixNano())
					if err := writer.rdb.Set(ctx, key, val, 0).Err(); err != nil {
						l.fail(ctx, writer, "SET", err)
						continue
					}
					a.add(key, val)
					acked.Add(1)
					r := readers[(seq+k)%len(readers)]
					got, err := r.rdb.Get(ctx, key).Result()
					switch {
					case errors.Is(err, redis.Nil):
						l.violation(fmt.Sprintf("GET %s through %s: nil after SET through node %d was acknowledged", key, r, w.id))
					case err != nil:
						l.fail(ctx, r, "GET", err)
					case got != val:
						l.violation(fmt.Sprintf("GET %s through %s: %q after SET %q through node %d was acknowledged", key, r, got, val, w.id))
					}
				}
			}()
		}
	}
	return l
}

func (l *load) fail(ctx context.Context, lc loadClient, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	kind := err.Error()
	switch {
	case tryAgain(err):
		kind = "TRYAGAIN"
	case uncertain(err):
		kind = "UNCERTAIN"
	case redis.HasErrorPrefix(err, "BUSY"):
		kind = "BUSY"
	case isConnErr(err):
		kind = "connection"
	}
	if lc.readonly {
		op += " READONLY"
	}
	l.mu.Lock()
	l.errs[loadErr{lc.node, op, kind}]++
	l.mu.Unlock()
	select { // a node down: do not spin
	case <-ctx.Done():
	case <-time.After(10 * time.Millisecond):
	}
}

// isConnErr reports a connection that failed or was refused, as when its
// node is down, rather than an answer of the node.
func isConnErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout)
}

func (l *load) violation(s string) {
	l.mu.Lock()
	l.violations = append(l.violations, s)
	l.mu.Unlock()
}

// stop ends the load and waits for its writers.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// failures returns the failures seen, described and sorted; keep, if not
// nil, selects them.
func (l *load) failures(keep func(loadErr) bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []string
	for e, n := range l.errs {
		if keep == nil || keep(e) {
			lines = append(lines, fmt.Sprintf("%s at node %d: %s ×%d", e.op, e.node, e.kind, n))
		}
	}
	slices.Sort(lines)
	return lines
}

func (l *load) report() string { return strings.Join(l.failures(nil), "; ") }

// logExcerpt is a node's log, or its head and tail when long.
func logExcerpt(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	const head, tail = 40, 200
	if len(lines) > head+tail {
		skipped := len(lines) - head - tail
		lines = slices.Concat(lines[:head], []string{fmt.Sprintf("... %d lines ...", skipped)}, lines[len(lines)-tail:])
	}
	return strings.Join(lines, "\n")
}
