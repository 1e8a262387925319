package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "node.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The embedded default runs: it validates as it is.
func TestDefaultConfigIsValid(t *testing.T) {
	cfg, err := loadAndValidate(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientListen != "127.0.0.1:6380" || cfg.PeerListen != "127.0.0.1:7001" || cfg.HTTPListen != "127.0.0.1:8080" || cfg.DataDir != "./pipeline-data" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

// A file sets keys, tables included; a flag overrides the file.
func TestConfigFileThenFlags(t *testing.T) {
	p := writeConfig(t, `
id = 2
client-listen = "127.0.0.1:7379"
[raft]
election-ticks = 30
tick-interval = "5ms"
[pebble]
cache-bytes = "128MiB"
[client]
idle-timeout = "1m"
`)
	cfg, err := loadAndValidate([]string{"--config", p, "--raft.election-ticks", "40", "--pebble.memtable-bytes", "32MiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID != 2 || cfg.ClientListen != "127.0.0.1:7379" || cfg.Raft.ElectionTicks != 40 || cfg.Raft.TickInterval != 5*time.Millisecond ||
		cfg.Pebble.CacheBytes != 128<<20 || cfg.Pebble.MemTableBytes != 32<<20 || cfg.Client.IdleTimeout != time.Minute {
		t.Fatalf("loaded %+v", cfg)
	}
	h := cfg.hostConfig(nil, nil)
	if h.Raft.ElectionTicks != 40 || h.TickInterval != 5*time.Millisecond || h.NodeID != 2 {
		t.Fatalf("the host config did not follow: %+v", h)
	}
}

// A boolean key's flag needs no value, as Go's own boolean flags.
func TestBoolFlags(t *testing.T) {
	cfg, err := loadAndValidate([]string{"--http.pprof", "--snapshot.disabled=true"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.HTTP.Pprof || !cfg.Snap.Disabled {
		t.Fatalf("http.pprof %v, snapshot.disabled %v: want both true", cfg.HTTP.Pprof, cfg.Snap.Disabled)
	}
	if cfg, err = loadAndValidate([]string{"--http.pprof=false"}, io.Discard); err != nil || cfg.HTTP.Pprof {
		t.Fatalf("--http.pprof=false: pprof %v, err %v", cfg.HTTP.Pprof, err)
	}
}

// Every refusal names the key the user wrote, and is a config error (exit
// status 2).
func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, file string
		args       []string
		want       string
	}{
		{name: "unknown key", file: "idd = 3\n", want: "unknown key idd"},
		{name: "unknown key in a table", file: "[raft]\nelection-tick = 3\n", want: "raft.election-tick"},
		{name: "bad type", file: "[raft]\nelection-ticks = \"x\"\n", want: "election-ticks"},
		{name: "bad size", file: "[pebble]\ncache-bytes = \"lots\"\n", want: "cache-bytes"},
		{name: "bad duration", file: "[client]\nidle-timeout = \"soon\"\n", want: "idle-timeout"},
		{name: "conflicting ports", file: "client-listen = \"127.0.0.1:8080\"\n", want: "client-listen"},
		{name: "port on every interface", file: "http-listen = \"0.0.0.0:6380\"\n", want: "http-listen"},
		{name: "zero id", file: "id = 0\n", want: "id: must not be 0"},
		{name: "bad initial cluster", file: "initial-cluster = \"1=127.0.0.1\"\n", want: "initial-cluster"},
		{name: "log level", file: "[log]\nlevel = \"loud\"\n", want: "log.level"},
		{name: "wait strategy", file: "[pipeline]\nwait-strategy = \"nap\"\n", want: "pipeline.wait-strategy"},
		{name: "pipeline deeper than the ring", file: "[client]\npipeline-depth = 100000\n", want: "client.pipeline-depth"},
		{name: "framework's own check", file: "[raft]\nelection-ticks = 5000\n", want: "raft.election-ticks"},
		{name: "framework's queue check", file: "[pipeline]\npropose-queue = 1000\n", want: "pipeline.propose-queue"},
		{name: "pebble's check", file: "[pebble]\nmax-open-files = 3\n", want: "pebble.max-open-files"},
		{name: "bulk larger than a command may be", file: "[client]\nmax-bulk-bytes = \"512MiB\"\n", want: "client.max-bulk-bytes"},
		{name: "bad flag value", args: []string{"--raft.election-ticks", "many"}, want: "raft.election-ticks"},
		{name: "bad flag size", args: []string{"--wal.segment-bytes", "1XB"}, want: "wal.segment-bytes"},
		{name: "bad flag bool", args: []string{"--http.pprof=maybe"}, want: "http.pprof"},
		{name: "unknown flag", args: []string{"--no-such-key", "1"}, want: "no-such-key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeConfig(t, tc.file)}, args...)
			}
			_, err := loadAndValidate(args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
			if !errors.Is(err, errConfig) && !errors.Is(err, errUsage) {
				t.Fatalf("%v is neither a config nor a usage error: it would exit 1, not 2", err)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	good := writeConfig(t, "id = 1\n")
	bad := writeConfig(t, "[raft]\nelection-tick = 3\n")
	var out, errOut strings.Builder
	if code := run(t.Context(), []string{"check-config", good}, &out, &errOut); code != 0 {
		t.Fatalf("check-config of a good file: exit %d, %s", code, errOut.String())
	}
	errOut.Reset()
	if code := run(t.Context(), []string{"check-config", bad}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "raft.election-tick") {
		t.Fatalf("check-config of a bad file: exit %d, %q", code, errOut.String())
	}
	if code := run(t.Context(), []string{"check-config"}, &out, io.Discard); code != 2 {
		t.Fatalf("check-config without a file: exit %d", code)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]byteSize{"0": 0, "4096": 4096, "64MiB": 64 << 20, "1GiB": 1 << 30, "1 KiB": 1024, "2MB": 2e6, "10B": 10} {
		got, err := parseByteSize(in)
		if err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5GiB", "MiB", "1XB", "99999999999TiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
	if s := byteSize(64 << 20).String(); s != "64MiB" {
		t.Errorf("64 MiB prints as %q", s)
	}
}

// The README's config reference is the one the binary prints: a key
// added, removed or redocumented shows up as a failure here until the
// README follows (pipeline-node config-reference prints the table).
func TestREADMEConfigReference(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), reference()) {
		t.Fatal("README.md's config reference differs from `go run ./cmd/pipeline-node config-reference`: paste that output into the README")
	}
	seen := map[string]bool{}
	for _, k := range configKeys() {
		if seen[k.name] || k.doc == "" {
			t.Errorf("key %q is duplicated or undocumented", k.name)
		}
		seen[k.name] = true
	}
}

// A data folder remembers its node: another --id on it is refused, and
// --initial-cluster is not read again.
func TestIdentity(t *testing.T) {
	cfg := defaultNodeConfig()
	cfg.DataDir = t.TempDir()
	cfg.ID = 2
	cfg.InitialCluster = "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"
	id, first, err := loadIdentity(&cfg)
	if err != nil || !first || len(id.Voters) != 3 || len(id.peers()) != 2 {
		t.Fatalf("first start: %+v, %v, %v", id, first, err)
	}
	cfg.InitialCluster = "2=127.0.0.1:7002"
	id, first, err = loadIdentity(&cfg)
	if err != nil || first || len(id.Voters) != 3 {
		t.Fatalf("restart: %+v, %v, %v: the first start's cluster must hold", id, first, err)
	}
	cfg.ID = 3
	if _, _, err := loadIdentity(&cfg); !errors.Is(err, errConfig) || !strings.Contains(err.Error(), "id:") {
		t.Fatalf("another id on the folder: %v", err)
	}
	joiner := defaultNodeConfig()
	joiner.DataDir, joiner.ID = t.TempDir(), 4
	joiner.InitialCluster = cfg.InitialCluster
	if id, _, err := loadIdentity(&joiner); err != nil || len(id.Voters) != 0 {
		t.Fatalf("a node outside the initial cluster starts with no members: %+v, %v", id, err)
	}
}
