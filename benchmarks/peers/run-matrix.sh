#!/usr/bin/env bash
# run-matrix.sh: run the comparison matrix on the bench binaries given and
# print one table.
#
#   run-matrix.sh [-duration 10s] [-warmup 2s] [-out FILE] [-floor FLOOR.json] \
#                 [-payloads "16 1024"] [-clients "1 64 512"] [-groups "1 16"] \
#                 BENCH_BINARY...
#
# Every binary takes the flags -payload -clients -groups -duration -warmup
# and prints one JSON line (see README.md). For each configuration the
# binaries run one after the other, in the order given, so that drift of the
# machine spreads over all of them; each run gets a fresh temporary data
# directory (put TMPDIR on the disk to measure). A binary that exits with
# code 2 refuses the configuration (hashicorp-bench refuses -groups > 1): its
# cell shows "n/a". Any other failure shows "FAIL" and its stderr is kept
# beside the results, and the script exits 1 after printing the table.
#
# The JSON lines, exactly as the binaries printed them, go to FILE (default:
# matrix-YYYYmmdd-HHMMSS.jsonl in the current directory); FILE's stem
# .runs.tsv lists every run (binary, configuration, ok/na/FAIL) and its
# .stderr/ folder keeps each run's stderr. The table goes to stdout. The
# ratio columns are each system's ops/s divided by the FIRST binary's ops/s,
# in the same configuration of the same run.
#
# -floor names the JSON line of latency-floor (the main module's
# benchmarks/cmd/latency-floor: p50 of one fdatasync and of one loopback
# round trip, measured just before): it becomes FILE's first line, and the
# table is followed by each system's one-client p50 divided by the floor's
# sum, the figure of the goal "within 1.5x of one fsync plus one round trip".
set -euo pipefail

duration=10s
warmup=2s
out=""
floor=""
payloads="16 1024"
clients="1 64 512"
groups="1 16"

usage() {
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	-duration) duration="$2"; shift 2 ;;
	-warmup) warmup="$2"; shift 2 ;;
	-out) out="$2"; shift 2 ;;
	-floor) floor="$2"; shift 2 ;;
	-payloads) payloads="$2"; shift 2 ;;
	-clients) clients="$2"; shift 2 ;;
	-groups) groups="$2"; shift 2 ;;
	-h | -help | --help) usage ;;
	--) shift; break ;;
	-*) echo "run-matrix.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
bins=()
for b in "$@"; do
	if [ ! -x "$b" ]; then
		echo "run-matrix.sh: $b is not an executable" >&2
		exit 2
	fi
	bins+=("$b")
done
if [ -n "$floor" ] && ! grep -q '^{' "$floor" 2>/dev/null; then
	echo "run-matrix.sh: -floor $floor holds no JSON line" >&2
	exit 2
fi
if ! command -v python3 >/dev/null; then
	echo "run-matrix.sh: python3 is needed for the table" >&2
	exit 2
fi

[ -n "$out" ] || out="matrix-$(date +%Y%m%d-%H%M%S).jsonl"
stem="${out%.jsonl}"
runs="$stem.runs.tsv"
errdir="$stem.stderr"
if [ -n "$floor" ]; then
	grep '^{' "$floor" | tail -n 1 >"$out"
else
	: >"$out"
fi
printf 'bin_index\tbin\tpayload\tclients\tgroups\tstate\tjson\n' >"$runs"
mkdir -p "$errdir"

# A run that hangs is stopped after its warmup and window plus two minutes.
secs() { # a Go duration of s/ms/m/h units, to whole seconds rounded up
	python3 -c 'import re,sys,math
t=0.0
for n,u in re.findall(r"([0-9.]+)(ms|us|µs|ns|h|m|s)", sys.argv[1]):
    t+=float(n)*{"h":3600,"m":60,"s":1,"ms":1e-3,"us":1e-6,"µs":1e-6,"ns":1e-9}[u]
print(math.ceil(t))' "$1"
}
limit=$(($(secs "$duration") + $(secs "$warmup") + 120))
have_timeout=0
command -v timeout >/dev/null && have_timeout=1

failed=0
echo "run-matrix.sh: duration $duration, warmup $warmup; results in $out" >&2
for p in $payloads; do
	for c in $clients; do
		for g in $groups; do
			for i in "${!bins[@]}"; do
				b="${bins[$i]}"
				name="$(basename "$b")"
				tag="p${p}-c${c}-g${g}-${i}-${name}"
				args=(-payload "$p" -clients "$c" -groups "$g" -duration "$duration" -warmup "$warmup")
				echo "== $name ${args[*]}" >&2
				set +e
				if [ "$have_timeout" = 1 ]; then
					line=$(timeout -k 10 "$limit" "$b" "${args[@]}" 2>"$errdir/$tag.txt")
				else
					line=$("$b" "${args[@]}" 2>"$errdir/$tag.txt")
				fi
				rc=$?
				set -e
				line=$(printf '%s\n' "$line" | grep '^{' | tail -n 1 || true)
				if [ "$rc" = 0 ] && [ -n "$line" ]; then
					state=ok
					echo "   $line" >&2
					printf '%s\n' "$line" >>"$out"
				else
					state=FAIL
					[ "$rc" = 2 ] && state=na
					line=""
					echo "   exit $rc ($state); stderr in $errdir/$tag.txt" >&2
				fi
				printf '%d\t%s\t%d\t%d\t%d\t%s\t%s\n' "$i" "$name" "$p" "$c" "$g" "$state" "$line" >>"$runs"
				[ "$state" = FAIL ] && failed=$((failed + 1))
			done
		done
	done
done

python3 - "$runs" "${#bins[@]}" "$floor" <<'EOF'
import json, sys

path, nbins, floorpath = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}        # (payload, clients, groups) -> {bin_index: run dict or state str}
names = {}       # bin_index -> system name (from the JSON) or binary name
order = []
with open(path) as f:
    next(f)  # header
    for line in f:
        i, binname, p, c, g, state, js = line.rstrip("\n").split("\t", 6)
        i, key = int(i), (int(p), int(c), int(g))
        if state == "ok":
            cell = json.loads(js)
            names[i] = cell.get("system", binname)
        else:
            cell = state
            names.setdefault(i, binname)
        if key not in rows:
            rows[key] = {}
            order.append(key)
        rows[key][i] = cell

for i in range(nbins):
    names.setdefault(i, "bin%d" % i)
cols = ["ops/s", "p50us", "p99us", "p999us", "cpu_s", "e/fsync"]
fields = ["ops_per_sec", "p50_us", "p99_us", "p999_us", "cpu_seconds", "entries_per_fsync"]

def fmt(v, field):
    if field == "ops_per_sec":
        return "%.0f" % v
    if field in ("cpu_seconds", "entries_per_fsync"):
        return "%.2f" % v
    return "%.0f" % v

header1 = ["", "", ""]
header2 = ["payload", "clients", "groups"]
for i in range(nbins):
    header1 += [names[i]] + [""] * (len(cols) - 1)
    header2 += cols
for i in range(1, nbins):
    header1.append("ratio")
    header2.append("%s/%s" % (names[i], names[0]))
table = [header1, header2]
for key in order:
    r = list(map(str, key))
    cells = rows[key]
    for i in range(nbins):
        c = cells.get(i, "-")
        if isinstance(c, dict):
            r += [fmt(c[f], f) for f in fields]
        else:
            r += [{"na": "n/a", "FAIL": "FAIL"}.get(c, c)] + [""] * (len(cols) - 1)
    base = cells.get(0)
    for i in range(1, nbins):
        c = cells.get(i)
        if isinstance(base, dict) and isinstance(c, dict) and base["ops_per_sec"] > 0:
            r.append("%.2f" % (c["ops_per_sec"] / base["ops_per_sec"]))
        else:
            r.append("-")
    table.append(r)

widths = [max(len(row[j]) for row in table) for j in range(len(table[0]))]
groups_start = set(3 + i * len(cols) for i in range(nbins)) | {3 + nbins * len(cols)}
for n, row in enumerate(table):
    parts = []
    for j, cell in enumerate(row):
        sep = " | " if j in groups_start else " "
        parts.append((sep if j else "") + cell.rjust(widths[j]))
    print("".join(parts).rstrip())
    if n == 1:
        print("-" * len("".join(parts)))
print("\nratio: each system's ops/s divided by %s's (the first binary), same configuration, same run." % names[0])

if floorpath:
    lines = [l for l in open(floorpath) if l.startswith("{")]
    if lines:
        fl = json.loads(lines[-1])
        s = fl["sum_p50_us"]
        print("\nfloor (latency-floor, this run): fsync p50 %.0fus + loopback rtt p50 %.0fus = %.0fus"
              % (fl["fsync_p50_us"], fl["rtt_p50_us"], s))
        print("one client, p50 / floor:")
        for key in order:
            if key[1] != 1 or s <= 0:
                continue
            cells = [rows[key].get(i) for i in range(nbins)]
            parts = ["%s %s" % (names[i], "%.2f" % (c["p50_us"] / s) if isinstance(c, dict) else "-")
                     for i, c in enumerate(cells)]
            print("  payload %d groups %d: %s" % (key[0], key[2], ", ".join(parts)))
        if fl.get("fsync_x3_p50_us"):
            print("(three fdatasyncs at once on this disk, as three in-process hosts do: p50 %.0fus)" % fl["fsync_x3_p50_us"])
EOF
if [ "$failed" -gt 0 ]; then
	echo "run-matrix.sh: $failed run(s) failed; see $errdir" >&2
	exit 1
fi
