#!/usr/bin/env bash
# ci/bench.sh — every benchmark of shared/BENCHMARKS.md, weft against tokio
# and smol (and a bare mio loop, the floor, for the server rows), written up
# as benches/RESULTS.md and drawn as benches/results.svg.
#
# What it does:
#   1. builds everything first, so nothing is measured while rustc runs:
#        cargo bench -p weft-benches --bench scheduler --no-run
#        cargo build --release -p weft-benches --examples
#        cargo build --release -p weft-examples
#      (only what the chosen sections need);
#   2. runs the sections, in this order, each under its own timeout:
#        scheduler  the criterion rows (benches/benches/scheduler.rs): one
#                   group per row, one function per runtime; besides
#                   criterion's timings, each function leaves its process
#                   CPU time in target/criterion/<row>/<runtime>/cpu.json
#        memory     bytes per idle task and idle CPU
#                   (benches/memory/main.rs --json target/memory/summary.json)
#        http       bash ci/http-bench.sh  -> target/http-bench/summary.json
#        echo       bash ci/echo-bench.sh  -> target/echo-bench/summary.json
#      A section that fails or times out is reported, its cells show —, the
#      others still run, and this script exits non-zero at the end;
#   3. records the run (dates, load average, commands, exit statuses) in
#      target/bench-run/run.json and runs `python3 ci/bench_report.py`,
#      which reads all of the above and writes benches/RESULTS.md and
#      benches/results.svg. The report can be rerun alone on the same
#      results (see its --help; its inputs can be pointed elsewhere by env).
#
# How long, on a 2-core machine from a warm target dir (building from cold
# takes several minutes more):
#   --quick : about 2.5-3 minutes (measured: 2 min 35 s) — scheduler
#             ~100 s (criterion: 1 s warm-up, 2 s measurement, 10 samples),
#             memory ~10 s, http ~40 s (1 round of 2 s), echo ~15 s;
#   default : about 10 minutes — scheduler 5-6 min (criterion defaults;
#             a slow row such as tokio's spawn_many_remote_busy stretches its
#             own time), memory ~10 s, http ~2 min, echo ~1.5 min.
#
# Usage: ci/bench.sh [--quick] [--only SECTION]... [-- <criterion args>]
#   --quick         short measurements everywhere (passed on to the server
#                   scripts as --quick)
#   --only SECTION  run only this section (scheduler, memory, http, echo);
#                   repeatable. A subset run writes a report with only the
#                   sections it ran: the other rows show — and RESULTS.md
#                   says which sections were left out. Nothing from an
#                   earlier run is carried over.
#   -- ARGS         extra criterion arguments, e.g. a row filter
#                   (`-- chained_spawn`); rows filtered out show —.
# Env:   WEFT_BENCH_WORKERS  worker threads for every runtime and server
#                            (default: $WORKERS, else 2)
#        BENCH_TIMEOUT       seconds for the scheduler section (default 1800,
#                            --quick 300); MEMORY_TIMEOUT (120), HTTP_TIMEOUT
#                            and ECHO_TIMEOUT (900, --quick 180)
#        SCALING_MD          a markdown file whose contents replace the
#                            "not measured" text of RESULTS.md's Scaling
#                            section
set -euo pipefail

cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

all_sections=(scheduler memory http echo)
quick=0
only=()
extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --only)
            case "${2:-}" in
                scheduler | memory | http | echo) only+=("$2"); shift 2 ;;
                *) echo "--only takes one of: ${all_sections[*]} (got '${2:-}')" >&2; exit 2 ;;
            esac
            ;;
        --) shift; extra=("$@"); break ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done

# The sections to run, always in the canonical order.
sections=()
for s in "${all_sections[@]}"; do
    if [[ ${#only[@]} -eq 0 || " ${only[*]} " == *" $s "* ]]; then
        sections+=("$s")
    fi
done
runs() { [[ " ${sections[*]} " == *" $1 "* ]]; }

workers="${WEFT_BENCH_WORKERS:-${WORKERS:-2}}"
export WEFT_BENCH_WORKERS="$workers" WORKERS="$workers"

if [[ $quick -eq 1 ]]; then
    crit_opts=(--warm-up-time 1 --measurement-time 2 --sample-size 10)
    server_opts=(--quick)
    scheduler_timeout="${BENCH_TIMEOUT:-300}"
    server_timeout_default=180
else
    crit_opts=()
    server_opts=()
    scheduler_timeout="${BENCH_TIMEOUT:-1800}"
    server_timeout_default=900
fi
crit_opts+=("${extra[@]+"${extra[@]}"}")
memory_timeout="${MEMORY_TIMEOUT:-120}"
http_timeout="${HTTP_TIMEOUT:-$server_timeout_default}"
echo_timeout="${ECHO_TIMEOUT:-$server_timeout_default}"

invocation=(ci/bench.sh)
[[ $quick -eq 1 ]] && invocation+=(--quick)
for s in "${only[@]+"${only[@]}"}"; do invocation+=(--only "$s"); done
[[ ${#extra[@]} -gt 0 ]] && invocation+=(-- "${extra[@]}")

target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
# Shown relative to the repository where it lies inside it, so that the
# commands RESULTS.md quotes can be pasted elsewhere.
case "$target_dir" in
    "$PWD"/*) target_dir="${target_dir#"$PWD"/}" ;;
esac
run_dir="$target_dir/bench-run"
mkdir -p "$run_dir"
steps="$run_dir/steps.tsv" # section, status, seconds, load before, load after, rustc seen, command
: >"$steps"
start_epoch="$(date +%s)"
overall=0

# --- build -------------------------------------------------------------------

# build NAME CMD...: runs a build; on failure marks it in failed_builds.
failed_builds=()
build() {
    local name=$1
    shift
    echo "==> building: $*" >&2
    if ! "$@"; then
        echo "!! build failed: $*" >&2
        failed_builds+=("$name")
        overall=1
    fi
}
built() { [[ " ${failed_builds[*]-} " != *" $1 "* ]]; }

runs scheduler && build bench cargo bench -p weft-benches --bench scheduler --no-run
if runs memory || runs http || runs echo; then
    build bench-examples cargo build --release -p weft-benches --examples
fi
if runs http || runs echo; then
    build examples cargo build --release -p weft-examples
fi

# --- measure -----------------------------------------------------------------

# step SECTION TIMEOUT CMD...: runs one section under a timeout and records
# its outcome; never stops the script.
step() {
    local section=$1 limit=$2
    shift 2
    local command="WEFT_BENCH_WORKERS=$workers $*"
    local busy load_before load_after started status=0
    # The figures mean little if something else uses the CPU (on a 2-core
    # machine one rustc halves the workers): warn, and record it.
    busy="$(pgrep -x rustc | wc -l || true)"
    if [[ $busy -gt 0 ]]; then
        echo "!! warning: rustc is running ($busy processes); the $section figures" \
            "will be disturbed — rerun when the machine is idle" >&2
    fi
    load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
    started="$(date +%s)"
    echo "==> [$section] $command (timeout ${limit}s)" >&2
    timeout --signal=TERM --kill-after=10 "$limit" "$@" || status=$?
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        echo "!! [$section] timed out after ${limit}s; its cells show what finished, if anything" >&2
    elif [[ $status -ne 0 ]]; then
        echo "!! [$section] failed with status $status; its cells show what finished, if anything" >&2
    fi
    [[ $status -ne 0 ]] && overall=1
    load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$status" "$(($(date +%s) - started))" \
        "$load_before" "$load_after" "$busy" "$command" >>"$steps"
}

# skip SECTION WHY: records a section that could not run.
skip() {
    echo "!! [$1] not run: $2" >&2
    printf '%s\t%s\t0\t\t\t0\t%s\n' "$1" "not run: $2" "" >>"$steps"
    overall=1
}

if runs scheduler; then
    if built bench; then
        # The bench finds criterion's folder as criterion does, and leaves
        # its cpu.json files there (see the top of scheduler.rs).
        step scheduler "$scheduler_timeout" cargo bench -p weft-benches --bench scheduler -- "${crit_opts[@]+"${crit_opts[@]}"}"
    else
        skip scheduler "the bench did not build"
    fi
fi
if runs memory; then
    if built bench-examples; then
        rm -f "$target_dir/memory/summary.json"
        step memory "$memory_timeout" "$target_dir/release/examples/memory" \
            --json "$target_dir/memory/summary.json"
    else
        skip memory "the weft-benches examples did not build"
    fi
fi
for server in http echo; do
    runs "$server" || continue
    script="ci/$server-bench.sh"
    limit="$http_timeout"
    [[ $server == echo ]] && limit="$echo_timeout"
    if [[ ! -f $script ]]; then
        skip "$server" "$script does not exist"
    elif ! built bench-examples || ! built examples; then
        skip "$server" "the servers did not build"
    else
        rm -f "$target_dir/$server-bench/summary.json"
        step "$server" "$limit" bash "$script" "${server_opts[@]+"${server_opts[@]}"}"
    fi
done

# --- report ------------------------------------------------------------------

cpu_model="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
START_EPOCH="$start_epoch" \
END_EPOCH="$(date +%s)" \
INVOCATION="WEFT_BENCH_WORKERS=$workers ${invocation[*]}" \
QUICK="$quick" \
WORKERS="$workers" \
SECTIONS="${sections[*]}" \
FAILED_BUILDS="${failed_builds[*]-}" \
NPROC="$(nproc)" \
CPU_MODEL="${cpu_model:-unknown}" \
STEPS="$steps" \
python3 - "$run_dir/run.json" <<'PY'
import json, os, sys

steps = []
with open(os.environ["STEPS"]) as f:
    for line in f:
        section, status, seconds, before, after, rustc, command = line.rstrip("\n").split("\t")
        steps.append({
            "section": section,
            "status": int(status) if status.lstrip("-").isdigit() else status,
            "seconds": int(seconds),
            "load_before": before,
            "load_after": after,
            "rustc_processes": int(rustc or 0),
            "command": command,
        })
run = {
    "start_epoch": int(os.environ["START_EPOCH"]),
    "end_epoch": int(os.environ["END_EPOCH"]),
    "invocation": os.environ["INVOCATION"],
    "quick": os.environ["QUICK"] == "1",
    "workers": int(os.environ["WORKERS"]),
    "sections": os.environ["SECTIONS"].split(),
    "failed_builds": os.environ["FAILED_BUILDS"].split(),
    "nproc": int(os.environ["NPROC"]),
    "cpu_model": os.environ["CPU_MODEL"],
    "steps": steps,
}
with open(sys.argv[1], "w") as f:
    json.dump(run, f, indent=2)
    f.write("\n")
PY

if ! BENCH_TARGET_DIR="$target_dir" python3 ci/bench_report.py; then
    echo "!! ci/bench_report.py failed" >&2
    overall=1
fi
exit "$overall"
