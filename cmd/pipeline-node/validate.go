package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// errConfig marks a config that cannot run: exit code 2, the key named.
var errConfig = errors.New("config")

// validate checks every key this command owns, then has the framework
// check the rest; each error names the key.
func (c *nodeConfig) validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", errConfig, key, fmt.Sprintf(format, args...))
	}
	switch {
	case c.ID == 0:
		return bad("id", "must not be 0")
	case c.ClusterID == 0:
		return bad("cluster-id", "must not be 0")
	case c.DataDir == "":
		return bad("data-dir", "is empty")
	}
	addrs := []struct{ key, addr string }{{"peer-listen", c.PeerListen}, {"client-listen", c.ClientListen}, {"http-listen", c.HTTPListen}}
	for i, a := range addrs {
		host, port, err := splitAddr(a.addr)
		if err != nil {
			return bad(a.key, "%v", err)
		}
		for _, b := range addrs[:i] {
			bh, bp, _ := splitAddr(b.addr)
			if port == bp && port != 0 && (host == bh || anyHost(host) || anyHost(bh)) {
				return bad(a.key, "%q conflicts with %s %q: both listen on port %d", a.addr, b.key, b.addr, port)
			}
		}
	}
	if _, err := parseInitialCluster(c.InitialCluster); err != nil {
		return bad("initial-cluster", "%v", err)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		return bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return bad("log.format", "%q is not text or json", c.Log.Format)
	}
	cl := c.Client
	switch {
	case cl.MaxBulkBytes < 1 || cl.MaxBulkBytes > 1<<30:
		return bad("client.max-bulk-bytes", "%s is not in [1, 1GiB]", cl.MaxBulkBytes)
	case int64(cl.MaxBulkBytes) > int64(c.Raft.UncommittedMax)/4 || int64(cl.MaxBulkBytes) > int64(c.Peer.MaxFrameBytes)/4:
		// A SET is one Raft command: it must fit a leader's uncommitted
		// bytes and a forwarded request, with room for its neighbours.
		return bad("client.max-bulk-bytes", "%s exceeds a quarter of raft.uncommitted-bytes-max (%s) or transport.max-frame-bytes (%s)", cl.MaxBulkBytes, c.Raft.UncommittedMax, c.Peer.MaxFrameBytes)
	case cl.PipelineDepth < 1:
		return bad("client.pipeline-depth", "%d must be positive", cl.PipelineDepth)
	case cl.PipelineDepth > c.Pipe.ProposeQueue:
		return bad("client.pipeline-depth", "%d exceeds pipeline.propose-queue %d: a burst must fit the propose ring", cl.PipelineDepth, c.Pipe.ProposeQueue)
	case cl.MaxClients < 1:
		return bad("client.max-clients", "%d must be positive", cl.MaxClients)
	case cl.IdleTimeout < 0:
		return bad("client.idle-timeout", "%s is negative", cl.IdleTimeout)
	case cl.Timeout <= 0:
		return bad("client.request-timeout", "%s must be positive", cl.Timeout)
	case (cl.TLSCertFile == "") != (cl.TLSKeyFile == ""):
		return bad("client.tls-cert-file", "needs client.tls-key-file, and the other way round")
	}
	if _, ok := waitStrategyByName(c.Pipe.WaitStrategy); !ok {
		return bad("pipeline.wait-strategy", "%q is not spin-then-park, blocking, yield or busy-spin", c.Pipe.WaitStrategy)
	}
	p := c.Peer
	if n := btoi(p.TLSCAFile != "") + btoi(p.TLSCertFile != "") + btoi(p.TLSKeyFile != ""); n != 0 && n != 3 {
		return bad("transport.tls-ca-file", "transport.tls-ca-file, tls-cert-file and tls-key-file go together")
	}
	if err := c.hostConfig(nil, nil).Validate(); err != nil {
		return fmt.Errorf("%w: %w", errConfig, inKeys(err))
	}
	if err := c.kvOptions(nil).Validate(); err != nil {
		return fmt.Errorf("%w: %w", errConfig, inKeys(err))
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// splitAddr splits host:port; the port must be a number (0 picks one).
func splitAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port %q is not a number in [0, 65535]", addr, p)
	}
	return host, port, nil
}

// anyHost reports whether host listens on every interface.
func anyHost(host string) bool { return host == "" || host == "0.0.0.0" || host == "::" }

// parseInitialCluster reads "1=127.0.0.1:7001,2=127.0.0.1:7002".
func parseInitialCluster(s string) (map[uint64]string, error) {
	out := map[uint64]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		idText, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q is not id=host:port", part)
		}
		id, err := strconv.ParseUint(idText, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("%q: node ID %q is not a positive integer", part, idText)
		}
		if _, _, err := splitAddr(addr); err != nil {
			return nil, fmt.Errorf("node %d: %w", id, err)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("node %d is named twice", id)
		}
		out[id] = addr
	}
	return out, nil
}
