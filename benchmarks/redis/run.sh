#!/usr/bin/env bash
# redis-benchmark against a local 3-node pipeline-node cluster (configs/
# node1-3.toml: fsync on, three replicas) and, in the same run, against a
# real redis-server with appendfsync always (one process, fsync on every
# write): SET and GET, -c 50, with -P 1 and -P 16. The cluster is asked
# through its leader and, for comparison, through a follower (which
# forwards writes and linearizable reads to the leader).
#
# Usage: benchmarks/redis/run.sh [-n REQUESTS] [-o OUT.csv]
# Needs redis-benchmark and redis-server (Debian: redis-tools,
# redis-server). Prints a table; the raw CSV lines go to OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."

requests=200000
out=bench-redis.csv
while getopts "n:o:" opt; do
	case $opt in
	n) requests=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
for tool in redis-benchmark redis-server curl; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found (apt-get install redis-tools redis-server curl)" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/pipeline-node" ./cmd/pipeline-node
for i in 1 2 3; do
	"$work/pipeline-node" --config "configs/node$i.toml" --data-dir "$work/node$i" --log.level warn >"$work/node$i.log" 2>&1 &
	pids+=($!)
done
redis_port=6390
redis-server --port $redis_port --dir "$work" --appendonly yes --appendfsync always --save "" --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)

# Wait for every node to be ready, then find the leader.
for i in 1 2 3; do
	for _ in $(seq 200); do
		curl -sf "127.0.0.1:808$i/readyz" >/dev/null && break
		sleep 0.1
	done
	curl -sf "127.0.0.1:808$i/readyz" >/dev/null || { echo "node $i never became ready:"; cat "$work/node$i.log"; exit 1; }
done
leader=$(curl -s 127.0.0.1:8081/status | sed -n 's/.*"leader": \([0-9]*\).*/\1/p' | head -1)
follower=$(( leader % 3 + 1 ))
for _ in $(seq 100); do redis-cli -p $redis_port ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "target,pipeline,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms" >"$out"
run() { # name port pipeline
	local name=$1 port=$2 p=$3
	redis-benchmark -p "$port" -t set,get -c 50 -n "$requests" -P "$p" -r 100000 --csv 2>/dev/null |
		tail -n +2 | tr -d '"' | sed "s/^/$name,$p,/" >>"$out"
}
for p in 1 16; do
	run "pipeline-node leader (node $leader)" "638$leader" "$p"
	run "pipeline-node follower (node $follower)" "638$follower" "$p"
	run "redis-server appendfsync always" "$redis_port" "$p"
done
echo "fsync: $(grep -c . "$out") lines in $out"
column -s, -t <"$out"
