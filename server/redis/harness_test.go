package redis

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/kv"
)

var verboseNodes = flag.Bool("redis.verbose", false, "log the test nodes' hosts and servers at debug level to stderr")

// group is the one Raft group of the test clusters: kv.SingleRegion.
const group = 1

// waitMax bounds every wait of these tests for the cluster to do
// something (elect, apply, close): far above what it takes, so that a
// wait that ends there is a failure, not slowness.
const waitMax = 20 * time.Second

// testCluster is n nodes on loopback, each a raftpipe.Host with its own
// log, a Pebble store, a kv.Service and a Server listening on
// 127.0.0.1:0: what pipeline-node runs, without its config file.
type testCluster struct {
	t     *testing.T
	cfg   Config // every node's server config
	nodes []*testNode
	// tuneHost, if set, adjusts each host's config before it starts.
	tuneHost func(*raftpipe.Config)
}

// testNode is one node of a testCluster; its fields are nil while it is
// stopped.
type testNode struct {
	id       uint64
	dir      string
	peerAddr string // where the host listens for peers; kept across restarts
	h        *raftpipe.Host
	store    *kv.Store
	svc      *kv.Service
	srv      *Server
	addr     string     // where srv listens for clients
	served   chan error // Serve's return
}

func testLogger(node uint64) *slog.Logger {
	if *verboseNodes {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", node)
	}
	return slog.New(slog.DiscardHandler)
}

// newTestCluster starts n nodes whose servers use cfg, and waits until
// the group has a leader every node knows of. Everything is stopped when
// the test ends.
func newTestCluster(t *testing.T, n int, cfg Config) *testCluster {
	t.Helper()
	return newTunedCluster(t, n, cfg, nil)
}

// newTunedCluster is newTestCluster with tuneHost adjusting each host's
// config.
func newTunedCluster(t *testing.T, n int, cfg Config, tuneHost func(*raftpipe.Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, cfg: cfg, nodes: make([]*testNode, n), tuneHost: tuneHost}
	for i := range c.nodes {
		c.nodes[i] = &testNode{id: uint64(i + 1), dir: t.TempDir(), peerAddr: "127.0.0.1:0"}
		c.startHost(i)
	}
	t.Cleanup(func() {
		for i, nd := range c.nodes {
			if nd.h != nil {
				c.stop(i)
			}
		}
	})
	for i := range c.nodes {
		c.startService(i)
	}
	c.waitLeaderKnown()
	return c
}

func (c *testCluster) hostConfig(nd *testNode) raftpipe.Config {
	cfg := raftpipe.Config{NodeID: nd.id, DataDir: filepath.Join(nd.dir, "raft"), ListenAddr: nd.peerAddr,
		Logger: testLogger(nd.id), Peers: map[uint64]string{}}
	// Short elections, as the root package's tests use, with room for a
	// loaded machine and the race detector: 5 ms ticks, elections after
	// 150 to 300 ms.
	cfg.TickInterval = 5 * time.Millisecond
	cfg.Raft.ElectionTicks = 30
	cfg.Raft.HeartbeatTicks = 2
	cfg.Raft.LeaseDriftTicks = 5
	cfg.WAL.SegmentBytes = 4 << 20
	if c.tuneHost != nil {
		c.tuneHost(&cfg)
	}
	for _, o := range c.nodes {
		if o != nil && o != nd && o.peerAddr != "127.0.0.1:0" {
			cfg.Peers[o.id] = o.peerAddr
		}
	}
	return cfg
}

// startHost starts node i's host and opens its store.
func (c *testCluster) startHost(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	h, err := raftpipe.NewHost(c.hostConfig(nd))
	if err != nil {
		c.t.Fatalf("node %d: %v", nd.id, err)
	}
	nd.h, nd.peerAddr = h, h.Addr().String()
	store, err := kv.Open(kv.Options{Dir: filepath.Join(nd.dir, "kv"), Logger: slog.New(slog.DiscardHandler),
		CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		c.t.Fatalf("node %d: %v", nd.id, err)
	}
	nd.store = store
}

// startService tells node i's host where its peers are, starts the
// group through a kv.Service and serves it.
func (c *testCluster) startService(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	var voters []uint64
	for _, o := range c.nodes {
		voters = append(voters, o.id)
		if o == nd || o.h == nil {
			continue
		}
		if err := nd.h.SetPeer(o.id, o.peerAddr); err != nil {
			c.t.Fatal(err)
		}
		if err := o.h.SetPeer(nd.id, nd.peerAddr); err != nil {
			c.t.Fatal(err)
		}
	}
	svc, err := kv.NewService(c.t.Context(), nd.h, nd.store, kv.SingleRegion{Group: group}, voters)
	if err != nil {
		c.t.Fatalf("node %d: %v", nd.id, err)
	}
	nd.svc = svc
	cfg := c.cfg
	if cfg.Logger == nil {
		cfg.Logger = testLogger(nd.id)
	}
	srv, err := NewServer(svc, cfg)
	if err != nil {
		c.t.Fatalf("node %d: %v", nd.id, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	nd.srv, nd.addr, nd.served = srv, ln.Addr().String(), make(chan error, 1)
	go func() { nd.served <- srv.Serve(ln) }()
}

// stop shuts node i's server down, then stops its host and closes its
// store.
func (c *testCluster) stop(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	if nd.srv != nil {
		if err := c.shutdownServer(i); err != nil {
			c.t.Errorf("node %d: Shutdown: %v", nd.id, err)
		}
	}
	if err := nd.h.Stop(); err != nil {
		c.t.Errorf("node %d: host stopped with %v", nd.id, err)
	}
	if err := nd.store.Close(); err != nil {
		c.t.Errorf("node %d: store closed with %v", nd.id, err)
	}
	nd.h, nd.store, nd.svc = nil, nil, nil
}

// shutdownServer shuts node i's server down, checks that Serve returned
// ErrServerClosed, and returns Shutdown's error.
func (c *testCluster) shutdownServer(i int) error {
	c.t.Helper()
	nd := c.nodes[i]
	ctx, cancel := context.WithTimeout(context.Background(), waitMax)
	defer cancel()
	err := nd.srv.Shutdown(ctx)
	if err := <-nd.served; !errors.Is(err, ErrServerClosed) {
		c.t.Errorf("node %d: Serve returned %v, want ErrServerClosed", nd.id, err)
	}
	nd.srv = nil
	return err
}

// restart starts node i again on its log and store.
func (c *testCluster) restart(i int) {
	c.t.Helper()
	c.startHost(i)
	c.startService(i)
}

// status is node i's view of the group.
func (c *testCluster) status(i int) raftpipe.GroupStatus {
	c.t.Helper()
	st, err := c.nodes[i].h.Status(group)
	if err != nil {
		c.t.Fatalf("node %d: %v", i+1, err)
	}
	return st
}

// waitLeaderKnown waits until a node leads and every running node names
// it as leader, and returns its index.
func (c *testCluster) waitLeaderKnown() int {
	c.t.Helper()
	deadline := time.Now().Add(waitMax)
	for time.Now().Before(deadline) {
		leader, agreed := -1, true
		for i, nd := range c.nodes {
			if nd.h == nil {
				continue
			}
			st := c.status(i)
			if st.Role == raftpipe.Leader {
				leader = i
			}
			if st.Leader == 0 {
				agreed = false
			}
		}
		if leader >= 0 && agreed {
			for i, nd := range c.nodes {
				if nd.h != nil && c.status(i).Leader != c.nodes[leader].id {
					agreed = false
				}
			}
			if agreed {
				return leader
			}
		}
		<-time.After(2 * time.Millisecond)
	}
	c.t.Fatal("no leader known to every node")
	return -1
}

// follower returns the index of a running node that is not leader.
func (c *testCluster) follower() int {
	c.t.Helper()
	ld := c.waitLeaderKnown()
	for i, nd := range c.nodes {
		if i != ld && nd.h != nil {
			return i
		}
	}
	c.t.Fatal("no follower")
	return -1
}

// client returns a go-redis client of node i's server, closed when the
// test ends; tune, if given, adjusts its options first.
func (c *testCluster) client(i int, tune ...func(*goredis.Options)) *goredis.Client {
	c.t.Helper()
	opts := &goredis.Options{Addr: c.nodes[i].addr, ReadTimeout: waitMax, WriteTimeout: waitMax, DialTimeout: waitMax}
	for _, f := range tune {
		f(opts)
	}
	cl := goredis.NewClient(opts)
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// dial opens a raw connection to node i's server.
func (c *testCluster) dial(i int) *rawConn {
	c.t.Helper()
	nc, err := net.Dial("tcp", c.nodes[i].addr)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(waitMax))
	return &rawConn{t: c.t, nc: nc, r: bufio.NewReader(nc)}
}

// rawConn speaks RESP by hand, for what a client library hides.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.nc, s); err != nil {
		rc.t.Fatalf("send %q: %v", s, err)
	}
}

// sendCommand sends args as an array of bulk strings.
func (rc *rawConn) sendCommand(args ...string) {
	rc.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	rc.send(b.String())
}

// reply reads one reply in the form the tests compare: a simple string,
// error or integer line as sent (without CR LF), a bulk string as its
// bytes ("(nil)" for the null bulk), an array as its elements joined
// by spaces in brackets.
func (rc *rawConn) reply() string {
	rc.t.Helper()
	s, err := rc.readReply()
	if err != nil {
		rc.t.Fatalf("reading a reply: %v", err)
	}
	return s
}

func (rc *rawConn) readReply() (string, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return line, err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return line, fmt.Errorf("reply line %q does not end in CR LF", line)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		var n int
		if _, err := fmt.Sscanf(line, "$%d", &n); err != nil {
			return line, err
		}
		if n < 0 {
			return "(nil)", nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, b); err != nil {
			return "", err
		}
		return string(b[:n]), nil
	case '*':
		var n int
		if _, err := fmt.Sscanf(line, "*%d", &n); err != nil {
			return line, err
		}
		if n < 0 {
			return "(nil array)", nil
		}
		elems := make([]string, n)
		for i := range elems {
			if elems[i], err = rc.readReply(); err != nil {
				return "", err
			}
		}
		return "[" + strings.Join(elems, " ") + "]", nil
	}
	return line, fmt.Errorf("bad reply line %q", line)
}

// expectClosed reads until the server closes the connection, failing on
// any further reply.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	b, err := io.ReadAll(rc.r)
	if len(b) > 0 {
		rc.t.Fatalf("read %q, want the connection closed", b)
	}
	if err != nil && !isConnReset(err) {
		rc.t.Fatalf("reading until close: %v", err)
	}
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset by peer")
}

// serverGoroutines lists the goroutines running this package's server
// code: its accept loops, connections and refusals. It sees every
// server of the process, so the tests that call it do not run in
// parallel (the parallel ones start only after them).
func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var found []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "server/redis.(*Server).") || strings.Contains(g, "server/redis.(*conn).") {
			found = append(found, g)
		}
	}
	return found
}

// waitNoServerGoroutines waits until no goroutine runs the server's
// code, and fails the test with their stacks if some still do at the
// deadline.
func waitNoServerGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(waitMax)
	for {
		left := serverGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server goroutines still running:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		<-time.After(5 * time.Millisecond)
	}
}

// eventually polls cond until it holds, failing the test with what
// describes the last state when waitMax passes.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitMax)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %s", what, state, waitMax)
		}
		<-time.After(2 * time.Millisecond)
	}
}
