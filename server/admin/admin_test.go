package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/kv"
	"github.com/raftpipe/raftpipe/metrics"
)

// node is one single-voter host with its Pebble store and the admin API.
type node struct {
	h   *raftpipe.Host
	srv *httptest.Server
}

func startNode(t *testing.T, token string) *node {
	return startNodeWith(t, Config{BearerToken: token})
}

func startNodeWith(t *testing.T, cfg Config) *node {
	t.Helper()
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	h, err := raftpipe.NewHost(raftpipe.Config{NodeID: 1, DataDir: filepath.Join(dir, "raft"), ListenAddr: "127.0.0.1:0", Logger: quiet, TickInterval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	store, err := kv.Open(kv.Options{Dir: filepath.Join(dir, "kv"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kv.NewService(t.Context(), h, store, kv.SingleRegion{Group: 1}, []uint64{1})
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.NewRegistry()
	if err := h.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	var peers []string
	cfg.AddPeer = func(n uint64, addr string) error {
		peers = append(peers, addr)
		return nil
	}
	srv := httptest.NewServer(Handler(svc, reg, cfg))
	t.Cleanup(func() {
		srv.Close()
		h.Stop()
		store.Close()
	})
	return &node{h: h, srv: srv}
}

func (n *node) do(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, n.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady polls /readyz until it answers 200: the lone voter elects
// itself and applies its no-op.
func (n *node) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := n.do(t, "GET", "/readyz", "", "")
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d: %s", code, body)
		}
		<-time.After(5 * time.Millisecond)
	}
}

func TestProbesStatusAndMetrics(t *testing.T) {
	n := startNode(t, "")
	if code, _ := n.do(t, "GET", "/healthz", "", ""); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	n.waitReady(t)
	code, body := n.do(t, "GET", "/status", "", "")
	var st struct {
		Node   uint64 `json:"node"`
		Groups []struct {
			Group, Term, Leader, Commit, Applied uint64
			Role                                 string
			LeaseExpiry                          *time.Time `json:"lease_expiry"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != http.StatusOK {
		t.Fatalf("/status %d %s: %v", code, body, err)
	}
	if st.Node != 1 || len(st.Groups) != 1 || st.Groups[0].Role != "leader" || st.Groups[0].Leader != 1 || st.Groups[0].Term == 0 || st.Groups[0].Applied == 0 {
		t.Fatalf("/status: %+v", st)
	}
	code, body = n.do(t, "GET", "/metrics", "", "")
	for _, want := range []string{"raftpipe_stage_items_total", "raftpipe_wal_fsync_duration_seconds_bucket", "raftpipe_groups_led 1", "go_goroutines", "process_cpu_seconds_total"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("/metrics (%d) lacks %s", code, want)
		}
	}
}

// With a token, /status and /admin need it; the probes and /metrics stay
// open.
func TestBearerToken(t *testing.T) {
	n := startNode(t, "s3cret")
	for _, p := range []string{"/healthz", "/metrics"} {
		if code, _ := n.do(t, "GET", p, "", ""); code != http.StatusOK {
			t.Fatalf("%s without a token: %d", p, code)
		}
	}
	if code, _ := n.do(t, "GET", "/status", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("/status without a token: %d", code)
	}
	if code, _ := n.do(t, "GET", "/status", "wrong", ""); code != http.StatusUnauthorized {
		t.Fatalf("/status with a wrong token: %d", code)
	}
	if code, _ := n.do(t, "POST", "/admin/snapshot", "", "{}"); code != http.StatusUnauthorized {
		t.Fatalf("/admin/snapshot without a token: %d", code)
	}
	if code, _ := n.do(t, "GET", "/status", "s3cret", ""); code != http.StatusOK {
		t.Fatalf("/status with the token: %d", code)
	}
}

func TestPprofOnlyWhenAskedAndBehindTheToken(t *testing.T) {
	off := startNode(t, "")
	if code, _ := off.do(t, "GET", "/debug/pprof/goroutine?debug=1", "", ""); code != http.StatusNotFound {
		t.Fatalf("pprof off: /debug/pprof/goroutine answered %d, want 404", code)
	}
	on := startNodeWith(t, Config{BearerToken: "s3cret", Pprof: true})
	if code, _ := on.do(t, "GET", "/debug/pprof/goroutine?debug=1", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("pprof on, no token: %d, want 401", code)
	}
	code, body := on.do(t, "GET", "/debug/pprof/goroutine?debug=1", "s3cret", "")
	if code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("pprof on, with the token: %d %.200q", code, body)
	}
}

func TestAdminOperations(t *testing.T) {
	n := startNode(t, "")
	n.waitReady(t)
	code, body := n.do(t, "POST", "/admin/snapshot", "", "")
	if code != http.StatusOK || !strings.Contains(body, `"ok": true`) {
		t.Fatalf("/admin/snapshot: %d %s", code, body)
	}
	for _, tc := range []struct{ path, body, want string }{
		{"/admin/members", `{"action": "evict", "node": 2}`, `"action" "evict"`},
		{"/admin/members", `{"action": "add-learner"}`, `"node" is required`},
		{"/admin/members", `{"action": "add-learner", "node": 2}`, `"address" is required`},
		{"/admin/members", `{"action": "add-learner", "node": 2, "nodes": 3}`, `unknown field`},
		{"/admin/transfer-leader", `{}`, `"to" is required`},
		{"/admin/transfer-leader", `{"to": `, `request body`},
	} {
		code, body := n.do(t, "POST", tc.path, "", tc.body)
		var e struct{ Error string }
		json.Unmarshal([]byte(body), &e)
		if code != http.StatusBadRequest || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s %s: %d %s; want 400 naming %s", tc.path, tc.body, code, body, tc.want)
		}
	}
	code, body = n.do(t, "POST", "/admin/members", "", `{"action": "add-learner", "node": 2, "address": "127.0.0.1:1"}`)
	if code != http.StatusOK {
		t.Fatalf("add a learner: %d %s", code, body)
	}
	code, body = n.do(t, "POST", "/admin/members", "", `{"action": "remove", "node": 2}`)
	for i := 0; code == http.StatusConflict && i < 200; i++ { // the add may still be settling: busy
		<-time.After(10 * time.Millisecond)
		code, body = n.do(t, "POST", "/admin/members", "", `{"action": "remove", "node": 2}`)
	}
	if code != http.StatusOK {
		t.Fatalf("remove the learner: %d %s", code, body)
	}
	code, body = n.do(t, "POST", "/admin/members", "", `{"action": "add-voter", "node": 3, "address": "127.0.0.1:1", "group": 9}`)
	if code != http.StatusNotFound || !strings.Contains(body, `"group": 9`) {
		t.Fatalf("an unknown group: %d %s", code, body)
	}
}
