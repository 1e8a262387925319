// Package admin is pipeline-node's HTTP API for operators: Prometheus
// metrics, health and readiness probes, the groups' status, and the
// operations on the cluster (membership, leadership transfer, snapshots).
//
//	GET  /metrics               Prometheus exposition
//	GET  /healthz               200 while the node runs; 503 once it failed
//	GET  /readyz                200 when every group knows its leader, has committed in its term and applied what it knows committed
//	GET  /status                JSON: per group role, term, leader, commit, applied, lease
//	POST /admin/members         {"action": "add-learner"|"add-voter"|"promote"|"remove", "node": 4, "address": "host:port"}
//	POST /admin/transfer-leader {"to": 2}
//	POST /admin/snapshot        {}: a snapshot of every group led or followed here, now
//	GET  /debug/pprof/...       Go's profiles, only if Config.Pprof is set
//
// With a bearer token configured, /status, /admin/* and /debug/pprof/* require
// "Authorization: Bearer <token>"; the probes and /metrics stay open, as
// orchestrators and scrapers expect. Operations take an optional "group"
// (default: every group of the key space).
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/kv"
)

// Config is the admin API's.
type Config struct {
	// BearerToken, if set, guards /status and /admin/*.
	BearerToken string
	// Timeout bounds each operation.
	Timeout time.Duration
	// AddPeer, if set, is told the address of a member being added, after
	// the host knows it, so the node can remember it across restarts.
	AddPeer func(node uint64, addr string) error
	// Pprof serves net/http/pprof's profiles under /debug/pprof/. Off by
	// default: a CPU profile or trace costs the node while it runs.
	Pprof  bool
	Logger *slog.Logger
}

// Handler serves the API for svc's node, with the metrics of reg.
func Handler(svc *kv.Service, reg *prometheus.Registry, cfg Config) http.Handler {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &api{svc: svc, cfg: cfg}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorLog: slogPromLogger{cfg.Logger}}))
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /status", a.guard(a.status))
	mux.Handle("POST /admin/members", a.guard(a.members))
	mux.Handle("POST /admin/transfer-leader", a.guard(a.transfer))
	mux.Handle("POST /admin/snapshot", a.guard(a.snapshot))
	if cfg.Pprof {
		mux.Handle("GET /debug/pprof/", a.guard(pprof.Index)) // also the named profiles: heap, goroutine, ...
		mux.Handle("GET /debug/pprof/cmdline", a.guard(pprof.Cmdline))
		mux.Handle("GET /debug/pprof/profile", a.guard(pprof.Profile))
		mux.Handle("GET /debug/pprof/symbol", a.guard(pprof.Symbol))
		mux.Handle("GET /debug/pprof/trace", a.guard(pprof.Trace))
	}
	return mux
}

type api struct {
	svc *kv.Service
	cfg Config
}

func (a *api) host() *raftpipe.Host { return a.svc.Host() }

// guard checks the bearer token, in constant time.
func (a *api) guard(h http.HandlerFunc) http.Handler {
	if a.cfg.BearerToken == "" {
		return h
	}
	want := []byte("Bearer " + a.cfg.BearerToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pipeline-node"`)
			writeError(w, http.StatusUnauthorized, errors.New("a valid bearer token is required"))
			return
		}
		h(w, r)
	})
}

func (a *api) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := a.host().Err(); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	w.Write([]byte("ok\n"))
}

func (a *api) readyz(w http.ResponseWriter, _ *http.Request) {
	if err := a.host().Err(); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	for _, g := range a.svc.Router().Groups() {
		st, err := a.host().Status(g)
		switch {
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, err)
			return
		case st.Leader == 0:
			writeError(w, http.StatusServiceUnavailable, fmt.Errorf("group %d has no known leader", g))
			return
		case st.Commit == 0:
			// A leader's no-op commits its term: before, nothing is known
			// committed, and no read can be proven fresh.
			writeError(w, http.StatusServiceUnavailable, fmt.Errorf("group %d has committed nothing yet", g))
			return
		case st.Applied < st.Commit:
			writeError(w, http.StatusServiceUnavailable, fmt.Errorf("group %d has applied %d of %d committed", g, st.Applied, st.Commit))
			return
		}
	}
	w.Write([]byte("ready\n"))
}

// groupStatus is one group in /status.
type groupStatus struct {
	Group       uint64     `json:"group"`
	Role        string     `json:"role"`
	Term        uint64     `json:"term"`
	Leader      uint64     `json:"leader"`
	Commit      uint64     `json:"commit"`
	Applied     uint64     `json:"applied"`
	LeaseExpiry *time.Time `json:"lease_expiry,omitempty"`
}

func (a *api) status(w http.ResponseWriter, _ *http.Request) {
	out := struct {
		Node   uint64        `json:"node"`
		Groups []groupStatus `json:"groups"`
	}{Node: a.host().NodeID()}
	for _, g := range a.svc.Router().Groups() {
		st, err := a.host().Status(g)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		gs := groupStatus{Group: g, Role: st.Role.String(), Term: st.Term, Leader: st.Leader, Commit: st.Commit, Applied: st.Applied}
		if !st.LeaseExpiry.IsZero() {
			gs.LeaseExpiry = &st.LeaseExpiry
		}
		out.Groups = append(out.Groups, gs)
	}
	writeJSON(w, http.StatusOK, out)
}

// request is the body of every operation.
type request struct {
	Action  string `json:"action"`
	Node    uint64 `json:"node"`
	Address string `json:"address"`
	To      uint64 `json:"to"`
	Group   uint64 `json:"group"`
}

func (a *api) decode(w http.ResponseWriter, r *http.Request) (request, bool) {
	var req request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) { // an empty body stands for {}
		writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return req, false
	}
	return req, true
}

// groups is the request's group, or every group of the key space.
func (a *api) groups(req request) []uint64 {
	if req.Group != 0 {
		return []uint64{req.Group}
	}
	return a.svc.Router().Groups()
}

func (a *api) members(w http.ResponseWriter, r *http.Request) {
	req, ok := a.decode(w, r)
	if !ok {
		return
	}
	if req.Node == 0 {
		writeError(w, http.StatusBadRequest, errors.New(`"node" is required`))
		return
	}
	h := a.host()
	var op func(ctx context.Context, group, node uint64) error
	switch req.Action {
	case "add-learner":
		op = h.AddLearner
	case "add-voter":
		op = h.AddVoter
	case "promote":
		op = h.PromoteLearner
	case "remove":
		op = h.RemoveMember
	default:
		writeError(w, http.StatusBadRequest, fmt.Errorf(`"action" %q is not add-learner, add-voter, promote or remove`, req.Action))
		return
	}
	if req.Action == "add-learner" || req.Action == "add-voter" {
		if req.Address == "" {
			writeError(w, http.StatusBadRequest, errors.New(`"address" is required to add a node`))
			return
		}
		if err := h.SetPeer(req.Node, req.Address); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if a.cfg.AddPeer != nil {
			if err := a.cfg.AddPeer(req.Node, req.Address); err != nil {
				writeError(w, http.StatusInternalServerError, err)
				return
			}
		}
	}
	a.each(w, r, req, func(ctx context.Context, g uint64) error { return op(ctx, g, req.Node) })
}

func (a *api) transfer(w http.ResponseWriter, r *http.Request) {
	req, ok := a.decode(w, r)
	if !ok {
		return
	}
	if req.To == 0 {
		writeError(w, http.StatusBadRequest, errors.New(`"to" is required`))
		return
	}
	a.each(w, r, req, func(ctx context.Context, g uint64) error { return a.host().TransferLeader(ctx, g, req.To) })
}

func (a *api) snapshot(w http.ResponseWriter, r *http.Request) {
	req, ok := a.decode(w, r)
	if !ok {
		return
	}
	a.each(w, r, req, func(ctx context.Context, g uint64) error {
		_, err := a.host().Snapshot(ctx, g)
		return err
	})
}

// each runs op on the request's groups and reports each outcome. An
// operation only the leader may do answers 421 with the leader, so the
// operator (or a script) can ask it there.
func (a *api) each(w http.ResponseWriter, r *http.Request, req request, op func(ctx context.Context, group uint64) error) {
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	type result struct {
		Group  uint64 `json:"group"`
		OK     bool   `json:"ok"`
		Error  string `json:"error,omitempty"`
		Leader uint64 `json:"leader,omitempty"`
	}
	var results []result
	code := http.StatusOK
	for _, g := range a.groups(req) {
		err := op(ctx, g)
		res := result{Group: g, OK: err == nil}
		if err != nil {
			res.Error = err.Error()
			var nl *raftpipe.NotLeaderError
			switch {
			case errors.As(err, &nl):
				res.Leader = nl.Leader
				code = http.StatusMisdirectedRequest
			case errors.Is(err, raftpipe.ErrGroupNotFound):
				code = max(code, http.StatusNotFound)
			case errors.Is(err, raftpipe.ErrBusy):
				code = max(code, http.StatusConflict)
			default:
				code = max(code, http.StatusInternalServerError)
			}
			a.cfg.Logger.Warn("admin operation failed", "path", r.URL.Path, "group", g, "err", err)
		}
		results = append(results, res)
	}
	writeJSON(w, code, map[string]any{"results": results})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// slogPromLogger routes promhttp's errors to the node's log.
type slogPromLogger struct{ log *slog.Logger }

func (l slogPromLogger) Println(v ...any) { l.log.Error("metrics: " + fmt.Sprint(v...)) }
