# raftpipe developer targets. CI runs .ci/run, which uses these.
GO            ?= go
PKGS          ?= ./...
FUZZTIME      ?= 5s
SEEDS         ?= 20000
STEPS         ?= 3000
BENCHTIME     ?= 2s
BENCHCOUNT    ?= 6
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.7.0

.PHONY: bench-redis cluster cluster-stop test race proofs bench bench-consensus bench-logstore bench-transport bench-peers bench-snapshot bench-restart fuzz lint simulate

# The README's test command.
test:
	$(GO) test $(PKGS)

race:
	$(GO) test -race $(PKGS)

# Every benchmark, BENCHCOUNT times, ready for benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(BENCHCOUNT) $(PKGS) | tee bench.txt

# The consensus core beside etcd raft, in the separate module that keeps
# etcd out of the core's dependencies.
bench-consensus:
	cd benchmarks/consensus-etcd && $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(BENCHCOUNT) | tee ../../bench-consensus.txt

# The WAL beside a Pebble-backed log and the raw disk, fsync on, in the
# separate module that keeps Pebble out of the main one's dependencies.
bench-logstore:
	$(MAKE) -C benchmarks/logstore-pebble bench BENCHTIME=$(BENCHTIME) BENCHCOUNT=$(BENCHCOUNT) OUT=../../bench-logstore.txt

# The transport over loopback beside plain net.Conn writes of the same
# bytes, both in one run; compare the MB/s columns row by row.
bench-transport:
	$(GO) test ./transport -run '^$$' -bench '^BenchmarkLoopback$$' -benchtime $(BENCHTIME) -count $(BENCHCOUNT) | tee bench-transport.txt

# raftpipe's pipeline-bench beside Dragonboat and hashicorp/raft
# (benchmarks/peers, their own module), fsync on everywhere, all in one
# matrix run; latency-floor first measures this machine's fdatasync and
# loopback round trip. Ratios are against raftpipe, the first binary.
# Results: bench-peers.jsonl (the floor's line first), .runs.tsv and
# .stderr/; the table on stdout. TMPDIR chooses the disk. The full matrix
# takes about 8 minutes.
DURATION      ?= 10s
WARMUP        ?= 2s
PAYLOADS      ?= 16 1024
CLIENTS       ?= 1 64 512
GROUPS        ?= 1 16

bench-peers:
	@set -e; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	$(GO) build -o "$$bin/" ./benchmarks/cmd/pipeline-bench ./benchmarks/cmd/latency-floor; \
	(cd benchmarks/peers && $(GO) build -o "$$bin/" ./cmd/dragonboat-bench ./cmd/hashicorp-bench); \
	"$$bin/latency-floor" -duration $(DURATION) >"$$bin/floor.json"; \
	cat "$$bin/floor.json"; \
	benchmarks/peers/run-matrix.sh -duration $(DURATION) -warmup $(WARMUP) \
		-payloads "$(PAYLOADS)" -clients "$(CLIENTS)" -groups "$(GROUPS)" \
		-floor "$$bin/floor.json" -out bench-peers.jsonl \
		"$$bin/pipeline-bench" "$$bin/dragonboat-bench" "$$bin/hashicorp-bench"

# A group's snapshot of SNAPSHOT_MIB (1 GiB) of 1 KiB values moved between
# two Pebble instances on the disk: SST files created, streamed through the
# transport, ingested; beside it the same keys written with Pebble batches.
# Needs about 7 times SNAPSHOT_MIB of free space under TMPDIR.
SNAPSHOT_MIB  ?= 1024
bench-snapshot:
	$(GO) test ./kv -run '^$$' -bench '^BenchmarkSnapshot$$' -benchtime 1x -count $(BENCHCOUNT) -timeout 0 -kv.snapshot-mib $(SNAPSHOT_MIB) | tee bench-snapshot.txt

# A single-voter host on the Pebble store restarted after RESTART_ENTRIES
# (1M) applied entries: the time to serve a first write again, and how
# many entries the restart applied.
RESTART_ENTRIES ?= 1000000
bench-restart:
	$(GO) test ./kv -run '^$$' -bench '^BenchmarkRestart$$' -benchtime 1x -count $(BENCHCOUNT) -timeout 0 -kv.restart-entries $(RESTART_ENTRIES) | tee bench-restart.txt

# The issue-sized catch-up proofs of issue 7 (about 3 minutes).
proofs:
	$(GO) test ./kv -run '^TestFollowerCatchesUpBySSTSnapshot$$' -v -count 1 -timeout 0 -kv.follower-writes 200000
	$(GO) test ./kv -run '^TestLearnerCatchesUpBySnapshot$$' -v -count 1 -timeout 0 -kv.learner-mib 1024

# A short run of every fuzz target of every package (go test -fuzz takes
# one target at a time).
#
# A target that fails without writing a failing input into its
# testdata/fuzz folder is run once more: Go 1.26's fuzz coordinator can
# report its own -fuzztime deadline as a failure ("context deadline
# exceeded", go.dev/issue/75804, fixed in Go 1.27), which slow targets
# such as logstore's FuzzRecover hit. A real crasher fails at once.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
			before=$$(ls "$$dir/testdata/fuzz/$$target" 2>/dev/null | wc -l); \
			if ! $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; then \
				after=$$(ls "$$dir/testdata/fuzz/$$target" 2>/dev/null | wc -l); \
				if [ "$$after" != "$$before" ]; then exit 1; fi; \
				echo "fuzz $$pkg $$target failed without a failing input (go.dev/issue/75804): once more"; \
				$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
			fi; \
		done; \
	done

# The consensus simulation over more seeds than go test runs (1,000).
# A failure prints its seed; replay it with
#   go test ./consensus -run TestSimulation -sim.seed N -sim.trace -v
simulate:
	$(GO) test ./consensus -run '^TestSimulation$$' -count 1 -timeout 0 -v \
		-sim.seeds $(SEEDS) -sim.steps $(STEPS)

lint:
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

# A local 3-node cluster from configs/node1.toml to node3.toml: data, logs
# and pids under pipeline-data/. Clients on 127.0.0.1:6381-6383, HTTP on
# 127.0.0.1:8081-8083.
cluster:
	@mkdir -p bin pipeline-data
	$(GO) build -o bin/pipeline-node ./cmd/pipeline-node
	@for i in 1 2 3; do \
		if [ -f pipeline-data/node$$i.pid ] && kill -0 $$(cat pipeline-data/node$$i.pid) 2>/dev/null; then \
			echo "node $$i already runs (pid $$(cat pipeline-data/node$$i.pid))"; continue; fi; \
		bin/pipeline-node --config configs/node$$i.toml >>pipeline-data/node$$i.log 2>&1 & echo $$! >pipeline-data/node$$i.pid; \
		echo "node $$i: pid $$!, log pipeline-data/node$$i.log"; \
	done

# Stops the local cluster gracefully (SIGTERM) and waits for each node.
cluster-stop:
	@for i in 1 2 3; do \
		f=pipeline-data/node$$i.pid; [ -f $$f ] || continue; pid=$$(cat $$f); \
		if kill -TERM $$pid 2>/dev/null; then while kill -0 $$pid 2>/dev/null; do sleep 0.1; done; echo "node $$i stopped"; fi; \
		rm -f $$f; \
	done

# redis-benchmark (SET, GET, -c 50, -P 1 and -P 16) against a local 3-node
# pipeline-node cluster, leader and follower, and against redis-server with
# appendfsync always, in one run; raw CSV in bench-redis.csv.
REDIS_REQUESTS ?= 200000
bench-redis:
	benchmarks/redis/run.sh -n $(REDIS_REQUESTS) -o bench-redis.csv

# pipeline-node's end-to-end tests: real processes (a 3-node cluster
# killed, restarted and stopped; config errors; a real Prometheus
# evaluating the Grafana dashboard's queries). go test runs them too,
# unless -short.
.PHONY: e2e
e2e:
	$(GO) test ./cmd/pipeline-node -run '^TestE2E' -count 1 -v

# pipeline-node's chaos tests: a 3-node cluster under a recorded workload
# while nodes are killed (SIGKILL), paused (SIGSTOP) and, as root, cut off
# with network namespaces; Porcupine checks the history is linearizable.
# CHAOS_DURATION is per scenario (go test runs 12s of each); CHAOS_SEED
# replays a logged schedule; a failure keeps its evidence in a new folder
# under CHAOS_DIR (default: the temp dir) and names it.
CHAOS_DURATION ?= 2m
CHAOS_SEED     ?= 0
CHAOS_DIR      ?=
.PHONY: chaos
chaos:
	$(GO) test ./cmd/pipeline-node -run '^TestChaos' -count 1 -v -timeout 0 \
		-chaos.duration $(CHAOS_DURATION) -chaos.seed $(CHAOS_SEED) $(if $(CHAOS_DIR),-chaos.dir $(abspath $(CHAOS_DIR)))
