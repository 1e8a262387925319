package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rateWindow stands for Grafana's $__rate_interval: 30 scrapes at the
// test's 1s interval.
const rateWindow = "30s"

// TestE2EPrometheusDashboard scrapes a loaded 3-node cluster with a real
// Prometheus, configured as configs/prometheus.yml but every second, and
// evaluates every query of configs/grafana/pipeline-node.json: each must
// return at least one series with a finite value. A query that never
// does is explained: the metric names it uses that /metrics does not
// expose, with the exposed names closest to them.
func TestE2EPrometheusDashboard(t *testing.T) {
	bin := requireE2E(t)
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not on PATH: apt-get install prometheus")
	}
	queries := dashboardQueries(t, repoFile("configs/grafana/pipeline-node.json"))
	c := startCluster(t, bin)
	l := startLoad(c, newAcks(), "prom", 2)
	t.Cleanup(l.stop)
	prom := startPrometheus(t, promBin, c)

	// Every node scraped, then every query answered: a rate needs two
	// scrapes with load between them.
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		res, err := prom.query(`up{job="pipeline-node"} == 1`)
		if err == nil && len(res) == len(c.nodes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus has not scraped all %d nodes after 30s: %v, %v", len(c.nodes), res, err)
		}
		<-time.After(250 * time.Millisecond)
	}
	t.Logf("prometheus scraped all %d nodes %s after it was ready", len(c.nodes), time.Since(start).Round(time.Millisecond))
	deadline = time.Now().Add(30 * time.Second)
	failing := map[string]string{} // query → why
	for {
		clear(failing)
		for _, q := range queries {
			if why := prom.finite(q); why != "" {
				failing[q] = why
			}
		}
		if len(failing) == 0 || time.Now().After(deadline) {
			break
		}
		<-time.After(time.Second)
	}
	l.stop()
	checkViolations(t, l)
	if len(failing) == 0 {
		t.Logf("all %d dashboard queries return a finite series, %s after the first scrape:", len(queries), time.Since(deadline.Add(-30*time.Second)).Round(time.Millisecond))
		for _, q := range queries {
			t.Logf("  %s: %s", q, prom.summary(q))
		}
		return
	}
	exposed := exposedMetrics(t, c)
	for _, q := range queries {
		if why, bad := failing[q]; bad {
			t.Errorf("dashboard query %s: %s%s", q, why, explainQuery(q, exposed, prom))
		}
	}
}

// dashboardQueries returns every PromQL expression of the dashboard (the
// "expr" of each target, in panels and rows at any depth), with Grafana's
// interval variables replaced by rateWindow.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if e, ok := v["expr"].(string); ok {
				out = append(out, e)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if len(out) == 0 {
		t.Fatalf("%s has no query (no target with an expr)", path)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	r := strings.NewReplacer("$__rate_interval", rateWindow, "${__rate_interval}", rateWindow,
		"$__interval", rateWindow, "${__interval}", rateWindow, "$__range", rateWindow, "${__range}", rateWindow)
	for i, q := range out {
		out[i] = r.Replace(q)
		if strings.Contains(out[i], "$") {
			t.Fatalf("%s: query %q uses a dashboard variable the test does not know", path, q)
		}
	}
	return out
}

type promServer struct {
	addr string
}

// startPrometheus runs prometheus with configs/prometheus.yml, changed to
// scrape the cluster's HTTP ports every second.
func startPrometheus(t *testing.T, bin string, c *cluster) *promServer {
	t.Helper()
	b, err := os.ReadFile(repoFile("configs/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, n := range c.nodes {
		targets = append(targets, strconv.Quote(n.http))
	}
	cfg := string(b)
	for _, r := range []struct{ re, with string }{
		{`scrape_interval: *\S+`, "scrape_interval: 1s"},
		{`evaluation_interval: *\S+`, "evaluation_interval: 1s"},
		{`targets: *\[[^\]]*\]`, "targets: [" + strings.Join(targets, ", ") + "]"},
	} {
		re := regexp.MustCompile(r.re)
		if n := len(re.FindAllStringIndex(cfg, -1)); n != 1 {
			t.Fatalf("configs/prometheus.yml has %d matches of %s, want 1: the test rewrites it to scrape its nodes", n, r.re)
		}
		cfg = re.ReplaceAllLiteralString(cfg, r.with)
	}
	dir := filepath.Join(c.dir, "prometheus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &promServer{addr: fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])}
	logPath := filepath.Join(dir, "prometheus.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+p.addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("prometheus's config:\n%s\nprometheus's log:\n%s", cfg, logExcerpt(logPath))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("prometheus exited: %v\n%s", cmd.ProcessState, logExcerpt(logPath))
		default:
		}
		resp, err := httpClient.Get("http://" + p.addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s: %v\n%s", err, logExcerpt(logPath))
		}
		<-time.After(100 * time.Millisecond)
	}
}

// sample is one series of an instant vector.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [time, "value"]
}

func (s sample) value() float64 {
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// query evaluates q now, through /api/v1/query.
func (p *promServer) query(q string) ([]sample, error) {
	resp, err := httpClient.Get("http://" + p.addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", resp.Status, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", r.Data.ResultType)
	}
	return r.Data.Result, nil
}

// finite returns why q has no series with a finite value, or "".
func (p *promServer) finite(q string) string {
	res, err := p.query(q)
	switch {
	case err != nil:
		return err.Error()
	case len(res) == 0:
		return "no series"
	}
	var vals []string
	for _, s := range res {
		v := s.value()
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return ""
		}
		vals = append(vals, fmt.Sprintf("%v=%v", s.Metric, s.Value[1]))
	}
	return fmt.Sprintf("%d series, none finite: %s", len(res), strings.Join(vals, ", "))
}

// summary describes q's series: how many, how many finite, and the
// labels of those that are not.
func (p *promServer) summary(q string) string {
	res, err := p.query(q)
	if err != nil {
		return err.Error()
	}
	finite := 0
	var others []string
	for _, s := range res {
		if v := s.value(); !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite++
		} else {
			others = append(others, fmt.Sprintf("%v=%v", s.Metric, s.Value[1]))
		}
	}
	out := fmt.Sprintf("%d series, %d finite", len(res), finite)
	if len(others) > 0 {
		slices.Sort(others)
		out += "; not finite: " + strings.Join(others, ", ")
	}
	return out
}

// exposedMetrics returns the sample names on the nodes' /metrics.
func exposedMetrics(t *testing.T, c *cluster) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, n := range c.running() {
		code, body, err := n.get("/metrics")
		if err != nil || code != http.StatusOK {
			t.Fatalf("node %d /metrics: %d %v", n.id, code, err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(body)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '#' {
				continue
			}
			if i := strings.IndexAny(line, "{ "); i > 0 {
				out[line[:i]] = true
			}
		}
	}
	return out
}

var metricName = regexp.MustCompile(`\b(?:raftpipe|go|process|promhttp)_[a-zA-Z0-9_:]*`)
var selector = regexp.MustCompile(`\b(?:raftpipe|go|process|promhttp)_[a-zA-Z0-9_:]*(?:\{[^}]*\})?`)

// explainQuery says which of q's metrics /metrics lacks (with the closest
// names it has), or which of its selectors selects nothing.
func explainQuery(q string, exposed map[string]bool, p *promServer) string {
	var b strings.Builder
	names := metricName.FindAllString(q, -1)
	if len(names) == 0 {
		return "; no metric name recognized in it"
	}
	for _, name := range names {
		if exposed[name] {
			continue
		}
		fmt.Fprintf(&b, "; metric %s is not exposed by the nodes' /metrics", name)
		if near := closest(name, exposed, 3); len(near) > 0 {
			fmt.Fprintf(&b, " (closest exposed: %s)", strings.Join(near, ", "))
		}
	}
	for _, sel := range selector.FindAllString(q, -1) {
		res, err := p.query(sel)
		if err != nil || len(res) > 0 {
			continue
		}
		fmt.Fprintf(&b, "; selector %s selects no series", sel)
		name, _, _ := strings.Cut(sel, "{")
		for _, m := range matcher.FindAllStringSubmatch(sel, -1) {
			res, err := p.query(fmt.Sprintf("count by (%s) (%s)", m[1], name))
			if err != nil || len(res) == 0 {
				continue
			}
			var vals []string
			for _, s := range res {
				vals = append(vals, strconv.Quote(s.Metric[m[1]]))
			}
			slices.Sort(vals)
			fmt.Fprintf(&b, " (%s has %s: %s)", name, m[1], strings.Join(vals, ", "))
		}
	}
	return b.String()
}

// matcher is a label matcher of a selector: its label name.
var matcher = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)

// closest returns up to n names of have nearest to name by edit distance.
func closest(name string, have map[string]bool, n int) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for h := range have {
		cs = append(cs, cand{h, editDistance(name, h)})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, c.name)
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
