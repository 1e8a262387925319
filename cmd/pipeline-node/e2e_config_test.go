package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runBinary runs pipeline-node with args in dir and returns its exit code
// and output. It must exit within 20s: a config that was meant to be
// refused but starts a node fails the test here.
func runBinary(t *testing.T, bin, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = childProcAttr()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pipeline-node %s still ran after 20s (killed); stderr:\n%s", strings.Join(args, " "), errOut.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("pipeline-node %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// TestE2EConfigErrors runs the binary on configs that cannot run: each
// exits with status 2 and an error naming the key; check-config answers 0
// for every shipped config; a data folder refuses another node's ID.
func TestE2EConfigErrors(t *testing.T) {
	bin := requireE2E(t)
	dir := t.TempDir() // the working directory: a node started by mistake would put its data here
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, name := range []string{"single-node.toml", "node1.toml", "node2.toml", "node3.toml"} {
		t.Run("check-config configs/"+name, func(t *testing.T) {
			p := repoFile("configs/" + name)
			code, stdout, stderr := runBinary(t, bin, dir, "check-config", p)
			if code != 0 || stdout != p+": ok\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, p+": ok\n")
			}
		})
	}
	cases := []struct {
		name string
		args []string
		want []string // each in stderr
	}{
		{"unknown key", []string{"--config", file("unknown.toml", "id = 1\nbogus-key = 1\n")}, []string{"unknown key bogus-key"}},
		{"unknown key in a table", []string{"--config", file("unknown-table.toml", "[raft]\nelection-tiks = 20\n")}, []string{"unknown key raft.election-tiks"}},
		{"bad type", []string{"--config", file("bad-type.toml", "[raft]\nelection-ticks = \"x\"\n")}, []string{`"raft.election-ticks"`}},
		{"bad duration", []string{"--config", file("bad-duration.toml", "[raft]\ntick-interval = \"soon\"\n")}, []string{`"raft.tick-interval"`, "soon"}},
		{"bad size", []string{"--config", file("bad-size.toml", "[snapshot]\nlog-bytes = \"12 parsecs\"\n")}, []string{`"snapshot.log-bytes"`, "12 parsecs"}},
		{"client-listen equal to http-listen", []string{"--config", file("ports.toml", "client-listen = \"127.0.0.1:9000\"\nhttp-listen = \"127.0.0.1:9000\"\n")},
			[]string{"http-listen", "client-listen", "port 9000"}},
		{"the framework's check: election-ticks not above heartbeat-ticks", []string{"--config", file("ticks.toml", "[raft]\nelection-ticks = 2\nheartbeat-ticks = 2\n")},
			[]string{"raft.election-ticks 2", "raft.heartbeat-ticks 2"}},
		{"the framework's check: a WAL segment too small", []string{"--config", file("segment.toml", "[wal]\nsegment-bytes = \"1KiB\"\n")}, []string{"wal.segment-bytes 1024"}},
		{"the framework's check: transport idle-timeout", []string{"--config", file("idle.toml", "[transport]\nidle-timeout = \"1ms\"\n")}, []string{"transport.idle-timeout 1ms"}},
		{"check-config of a bad file", []string{"check-config", file("check-bad.toml", "[raft]\nelection-ticks = \"x\"\n")}, []string{`"raft.election-ticks"`}},
		{"check-config of a missing file", []string{"check-config", filepath.Join(dir, "missing.toml")}, []string{"missing.toml"}},
		{"check-config without a file", []string{"check-config"}, []string{"check-config FILE"}},
		{"flag with a bad integer", []string{"--raft.election-ticks", "x"}, []string{"--raft.election-ticks", `"x" is not an integer`}},
		{"flag with a bad duration", []string{"--client.request-timeout", "5"}, []string{"--client.request-timeout", `"5" is not a duration`}},
		{"flag with a bad size", []string{"--client.max-bulk-bytes", "lots"}, []string{"--client.max-bulk-bytes", "lots"}},
		{"flag out of range", []string{"--client.pipeline-depth", "0"}, []string{"client.pipeline-depth: 0"}},
		{"unknown flag", []string{"--raft.election-tiks", "20"}, []string{"raft.election-tiks"}},
		{"flag overriding a good file badly", []string{"--config", repoFile("configs/node1.toml"), "--log.level", "loud"}, []string{"log.level", "loud"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runBinary(t, bin, dir, c.args...)
			if code != 2 {
				t.Fatalf("pipeline-node %s: exit %d, want 2; stderr:\n%s", strings.Join(c.args, " "), code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("pipeline-node %s: stderr does not name %q:\n%s", strings.Join(c.args, " "), w, stderr)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "pipeline-data")); err == nil {
		t.Errorf("a refused config created %s", filepath.Join(dir, "pipeline-data"))
	}
}

// TestE2EDataFolderKeepsItsIdentity starts a node of configs/single-node.toml,
// stops it, and restarts its data folder as another node and in another
// cluster: both are refused with status 2, naming id and cluster-id; with
// its own ID it starts again.
func TestE2EDataFolderKeepsItsIdentity(t *testing.T) {
	bin := requireE2E(t)
	c := newCluster(t, bin, []string{"configs/single-node.toml"})
	n := c.nodes[0]
	n.start(t)
	n.waitReady(t, 30*time.Second)
	if code := n.stop(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
	for _, tc := range []struct {
		flag, val, want string
	}{
		{"--id", "2", "id: 2, but data-dir ./pipeline-data belongs to node 1"},
		{"--cluster-id", "7", "cluster-id: 7, but data-dir ./pipeline-data belongs to cluster 1"},
	} {
		args := append(append([]string(nil), n.args...), tc.flag, tc.val)
		code, _, stderr := runBinary(t, bin, c.dir, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("restart with %s %s: exit %d, stderr:\n%s\nwant exit 2 and %q", tc.flag, tc.val, code, stderr, tc.want)
		}
	}
	n.start(t)
	n.waitReady(t, 30*time.Second)
}
