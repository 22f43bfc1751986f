#!/usr/bin/env bash
# ci/bench.sh — run the scheduler benchmarks (weft vs tokio vs smol) and
# write the results table to benches/RESULTS.md.
#
# What it does:
#   1. builds the criterion bench `scheduler` of package `weft-benches`
#      (release `bench` profile) — compiling first, measuring after, so the
#      measurement never shares the CPU with rustc;
#   2. runs `cargo bench -p weft-benches --bench scheduler -- <criterion opts>`
#      (rows spawn_many_local, yield_many, chained_spawn, ping_pong,
#      spawn_many_remote_idle, spawn_many_remote_busy, spawn_blocking,
#      timers; one
#      function per runtime, all on WEFT_BENCH_WORKERS worker threads,
#      default 2), under a timeout so a hung runtime cannot stall CI;
#   3. reads target/criterion/<row>/<runtime>/new/estimates.json (median) and
#      benchmark.json (elements per iteration), prints a markdown table
#      (ns per element = median / elements, and the ratio weft / best peer)
#      and writes it, with date, machine and command, to benches/RESULTS.md,
#      plus the same figures as a bar chart in benches/results.svg.
#
# How long: on a 2-core machine, about 1 minute to build from a warm target
# dir (several from cold), then
#   --quick : ~75 s of measurement (21 functions x ~3.5 s);
#   default : ~3-4 minutes of measurement (criterion defaults: 3 s warm-up,
#             5 s measurement, 100 samples, 21 functions; a slow row such
#             as tokio's spawn_many_remote_busy stretches its own time).
#
# Usage: ci/bench.sh [--quick] [-- <extra criterion args, e.g. a filter>]
# Env:   WEFT_BENCH_WORKERS (default 2), BENCH_TIMEOUT (seconds for the
#        measurement step, default 1800).
set -euo pipefail

cd "$(dirname "$0")/.."

quick=0
extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done

crit_opts=()
if [[ $quick -eq 1 ]]; then
    crit_opts=(--warm-up-time 1 --measurement-time 2 --sample-size 10)
fi
crit_opts+=("${extra[@]}")

export WEFT_BENCH_WORKERS="${WEFT_BENCH_WORKERS:-2}"
timeout_s="${BENCH_TIMEOUT:-1800}"

bench_cmd=(cargo bench -p weft-benches --bench scheduler -- "${crit_opts[@]}")
invocation=(ci/bench.sh)
if [[ $quick -eq 1 ]]; then invocation+=(--quick); fi
if [[ ${#extra[@]} -gt 0 ]]; then invocation+=(-- "${extra[@]}"); fi

echo "==> building (cargo bench -p weft-benches --bench scheduler --no-run)" >&2
cargo bench -p weft-benches --bench scheduler --no-run

target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

# The figures mean little if something else is using the CPU (on a 2-core
# machine a single rustc halves the workers): warn, and record the load.
if busy="$(pgrep -x rustc)"; then
    echo "!! warning: rustc is running ($(echo "$busy" | wc -l) processes);" \
         "timings will be disturbed — rerun when the machine is idle" >&2
fi
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
start_epoch="$(date +%s)"
echo "==> running: WEFT_BENCH_WORKERS=$WEFT_BENCH_WORKERS ${bench_cmd[*]}" >&2
status=0
timeout --signal=TERM --kill-after=10 "$timeout_s" "${bench_cmd[@]}" || status=$?
if [[ $status -eq 124 || $status -eq 137 ]]; then
    echo "!! the benchmark run timed out after ${timeout_s}s (a runtime hung?);" \
         "the table shows what finished" >&2
elif [[ $status -ne 0 ]]; then
    echo "!! the benchmark run failed with status $status; the table shows what finished" >&2
fi

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
cpu_model="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"

CRITERION_DIR="$target_dir/criterion" \
START_EPOCH="$start_epoch" \
RUN_STATUS="$status" \
NPROC="$(nproc)" \
CPU_MODEL="${cpu_model:-unknown}" \
WORKERS="$WEFT_BENCH_WORKERS" \
LOAD="$load_before before, $load_after after" \
INVOCATION="WEFT_BENCH_WORKERS=$WEFT_BENCH_WORKERS ${invocation[*]}" \
BENCH_CMD="WEFT_BENCH_WORKERS=$WEFT_BENCH_WORKERS ${bench_cmd[*]}" \
python3 - <<'PY'
import datetime
import json
import os
import sys

ROWS = [
    # (criterion group, unit of one element)
    ("spawn_many_local", "ns/task"),
    ("yield_many", "ns/yield"),
    ("chained_spawn", "ns/spawn"),
    ("ping_pong", "ns/round trip"),
    ("spawn_many_remote_idle", "ns/task"),
    ("spawn_many_remote_busy", "ns/task"),
    ("spawn_blocking", "ns/call"),
    ("timers", "ms past the last deadline"),
]
# Rows whose figure is shown in another unit than ns per element.
SCALE = {"timers": 1e-6}
RUNTIMES = ["weft", "tokio", "smol"]
PEERS = ["tokio", "smol"]

crit = os.environ["CRITERION_DIR"]
start = int(os.environ["START_EPOCH"])
status = int(os.environ["RUN_STATUS"])


def ns_per_elem(group, fn):
    """Median ns per element from this run, or None (missing or stale)."""
    base = os.path.join(crit, group, fn, "new")
    est = os.path.join(base, "estimates.json")
    meta = os.path.join(base, "benchmark.json")
    try:
        if os.path.getmtime(est) < start:
            return None  # left over from an earlier run
        with open(est) as f:
            median_ns = json.load(f)["median"]["point_estimate"]
        with open(meta) as f:
            elements = (json.load(f).get("throughput") or {}).get("Elements") or 1
    except (OSError, KeyError, ValueError):
        return None
    return median_ns / elements


def fmt(v):
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


results = {}
lines = [
    "| row | unit | weft | tokio | smol | weft / best peer |",
    "|---|---|---:|---:|---:|---:|",
]
for group, unit in ROWS:
    scale = SCALE.get(group, 1.0)
    vals = {
        rt: (None if v is None else v * scale)
        for rt, v in ((rt, ns_per_elem(group, rt)) for rt in RUNTIMES)
    }
    results[group] = vals
    peers = [vals[p] for p in PEERS if vals[p] is not None]
    if vals["weft"] is not None and peers:
        best = min(peers)
        best_name = [p for p in PEERS if vals[p] == best][0]
        ratio = f"{vals['weft'] / best:.2f} (vs {best_name})"
    else:
        ratio = "—"
    lines.append(
        f"| {group} | {unit} | {fmt(vals['weft'])} | {fmt(vals['tokio'])} "
        f"| {fmt(vals['smol'])} | {ratio} |"
    )
table = "\n".join(lines)
print()
print(table)



def svg_chart(results):
    """Grouped horizontal bars: each row's ns/element relative to its best peer."""
    colors = {"weft": "#d95f02", "tokio": "#1b9e77", "smol": "#7570b3"}
    bar_h, gap, left, width = 14, 12, 150, 420
    rel = {}
    for group, vals in results.items():
        peers = [vals[p] for p in PEERS if vals[p] is not None]
        best = min(peers) if peers else None
        rel[group] = {
            rt: (v / best if best and v is not None else None) for rt, v in vals.items()
        }
    top = max([r for g in rel.values() for r in g.values() if r is not None] + [1.0])
    scale = width / top
    block = len(RUNTIMES) * bar_h + gap
    height = 40 + block * len(results) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 150}" '
        f'height="{height}" font-family="sans-serif" font-size="11">',
        f'<text x="10" y="18" font-size="13">ns per element, relative to the best '
        f"peer (1.0 = best of tokio/smol; lower is better)</text>",
    ]
    y = 32
    for group in results:
        out.append(f'<text x="10" y="{y + bar_h * 2}">{group}</text>')
        for rt in RUNTIMES:
            r = rel[group][rt]
            v = results[group][rt]
            if r is None:
                out.append(f'<text x="{left}" y="{y + 11}">{rt}: no result</text>')
            else:
                w = max(1.0, r * scale)
                out.append(
                    f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                    f'fill="{colors[rt]}"/>'
                )
                out.append(
                    f'<text x="{left + w + 4:.1f}" y="{y + 10}">{rt} {r:.2f} '
                    f"({fmt(v)} ns)</text>"
                )
            y += bar_h
        y += gap
    one = left + scale
    out.append(
        f'<line x1="{one:.1f}" y1="28" x2="{one:.1f}" y2="{y}" stroke="#555" '
        f'stroke-dasharray="4 3"/>'
    )
    out.append(f'<text x="{one - 8:.1f}" y="{y + 14}">1.0</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


with open("benches/results.svg", "w") as f:
    f.write(svg_chart(results))

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
note = ""
if status != 0:
    note = (
        f"\n**The run did not complete (exit status {status}; 124 = timed out).** "
        "Cells marked — did not finish in this run.\n"
    )
doc = f"""# weft scheduler benchmarks — results

Generated by `ci/bench.sh`; do not edit by hand. Method and targets:
`shared/BENCHMARKS.md`. Source: `benches/benches/scheduler.rs`.

- Date: {now}
- Machine: {os.environ['NPROC']} cores (`nproc`), CPU: {os.environ['CPU_MODEL']}
- Worker threads (every runtime): {os.environ['WORKERS']}
- Load average (1/5/15 min) around the measurement: {os.environ['LOAD']}
  (the bench itself adds about the worker count; more means other work
  shared the CPU and the figures are disturbed)
- Command: `{os.environ['INVOCATION']}`, which runs
  `{os.environ['BENCH_CMD']}`
{note}
Cells are criterion's median time per iteration divided by the elements
one iteration processes (ns per element; lower is better). The last column
is weft's figure over the better of tokio and smol: at most 1.00 meets the
target. Absolute times drift between runs on shared machines; the ratios
within one run are what count.

{table}

![bar chart of the table](results.svg)

Rows:

- `spawn_many_local`: one task on a worker spawns 10 000 trivial tasks and
  awaits every join handle.
- `yield_many`: 200 tasks, each calling `yield_now` 1000 times.
- `chained_spawn`: each task spawns the next, 1000 deep; the last one
  signals the bench over an `async-channel`.
- `ping_pong`: 1000 task pairs bounce a message 100 times over two
  `async_channel::bounded(1)` channels (same channel for all runtimes).
- `spawn_many_remote_idle`: the bench thread (not a worker) spawns 10 000
  trivial tasks onto idle workers and awaits them.
- `spawn_many_remote_busy`: the same while every worker runs
  self-respawning tasks (2 chains per worker).
- `spawn_blocking`: 10 000 trivial closures started at once on the
  blocking pool (`smol::unblock` for smol), then all awaited.
- `timers`: 100 000 tasks each sleep 1–50 ms (`smol::Timer` for smol),
  then all are awaited; the figure is the wall time of an iteration minus
  the 50 ms of the longest sleep.

Not measured here (no bench yet in this package): memory, idle CPU. The HTTP rows come from `ci/http-bench.sh`. Scaling at
2/4/8/16 workers: not run (this script ran on the machine above only).
"""
out = "benches/RESULTS.md"
with open(out, "w") as f:
    f.write(doc)
print(f"\nwrote {out}", file=sys.stderr)
PY

exit "$status"
