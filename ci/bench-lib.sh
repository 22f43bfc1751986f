# ci/bench-lib.sh — shell shared by the server benchmarks, ci/http-bench.sh
# and ci/echo-bench.sh: their command line, building the servers, a lock on
# their log directory, starting each server on a free loopback port and
# killing it on exit (Ctrl-C included), the server's CPU time from /proc,
# medians and ratios.
#
# Sourced, not run: `source ci/bench-lib.sh` from the repository root, after
# `set -euo pipefail`. Before calling the functions below, the script sets
#   protocol  http or echo: weft's server is the weft-examples bin
#             $weft_bin, its twins the weft-benches examples SERVER-$protocol;
#   weft_bin  hello-http or echo-server;
#   WORKERS   worker threads for every server.
# Every server prints `...listening on 127.0.0.1:PORT...` once it has bound
# port 0.
# shellcheck shell=bash
# The variables this file sets (quick, clk_tck, ...) are the callers', and
# the ones it reads (protocol, weft_bin) theirs to set.
# shellcheck disable=SC2034,SC2154

# The comment block at the top of the calling script, from its line 2.
bench_usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

# parse_bench_args "$@": sets `servers` (weft tokio smol mio unless some are
# named) and `quick` (1 with --quick).
parse_bench_args() {
    servers=()
    quick=0
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --quick) quick=1 ;;
            -h | --help) bench_usage; exit 0 ;;
            weft | tokio | smol | mio) servers+=("$1") ;;
            *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
        esac
        shift
    done
    if [[ ${#servers[@]} -eq 0 ]]; then
        servers=(weft tokio smol mio)
    fi
}

# install_missing TOOL...: installs the Debian packages of that name that are
# not on PATH (apt-get; sudo when not root).
install_missing() {
    local tool missing=() sudo=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    echo "==> installing ${missing[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

bin_dir="${CARGO_TARGET_DIR:-target}/release"

# weft's server is a bin of weft-examples; its twins are examples of
# weft-benches (so tokio and smol stay dev-dependencies there).
server_path() {
    case "$1" in
        weft) echo "$bin_dir/$weft_bin" ;;
        *) echo "$bin_dir/examples/$1-$protocol" ;;
    esac
}

# build_servers [EXAMPLE...]: builds the chosen servers in release, and the
# weft-benches examples named (a load client, say).
build_servers() {
    local server bench_bins=()
    for server in "${servers[@]}"; do
        if [[ $server != weft ]]; then
            bench_bins+=(--example "$server-$protocol")
        fi
    done
    for server in "$@"; do
        bench_bins+=(--example "$server")
    done
    if [[ " ${servers[*]} " == *" weft "* ]]; then
        echo "==> cargo build --release -p weft-examples --bin $weft_bin" >&2
        cargo build --release -p weft-examples --bin "$weft_bin"
    fi
    if [[ ${#bench_bins[@]} -gt 0 ]]; then
        echo "==> cargo build --release -p weft-benches ${bench_bins[*]}" >&2
        cargo build --release -p weft-benches "${bench_bins[@]}"
    fi
}

# claim_work_dir DIR: empties DIR for this run's logs, once no other run
# uses it (ci/bench.sh may be running the same script): waits for the other
# run to finish, at most 15 minutes, holding DIR.lock until this one exits.
claim_work_dir() {
    mkdir -p "$(dirname "$1")"
    exec {work_lock}>"$1.lock"
    if ! flock -n "$work_lock"; then
        echo "==> waiting for another run that uses $1 to finish" >&2
        if ! flock -w 900 "$work_lock"; then
            echo "!! $1 is still in use after 15 minutes (see $1.lock)" >&2
            exit 1
        fi
    fi
    rm -rf "$1"
    mkdir -p "$1"
}

# Every server started; all are killed on exit.
server_pids=()
cleanup_servers() {
    local pid
    for pid in "${server_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${server_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    server_pids=()
}
trap cleanup_servers EXIT
trap 'exit 130' INT TERM

# start_server SERVER LOG: starts SERVER on a free loopback port (it binds
# port 0 and prints the port it got) and sets server_pid and server_port once
# it accepts connections. Each wait is bounded (10 s).
start_server() {
    local server=$1 log=$2 i
    : >"$log"
    WEFT_WORKER_THREADS="$WORKERS" "$(server_path "$server")" 127.0.0.1:0 >"$log" 2>&1 &
    server_pid=$!
    server_pids+=("$server_pid")
    server_port=
    for ((i = 0; i < 100; i++)); do
        server_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n1)
        [[ -n $server_port ]] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "!! $server exited before listening:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    if [[ -z $server_port ]]; then
        echo "!! $server printed no 'listening on' line within 10 s" >&2
        exit 1
    fi
    for ((i = 0; i < 100; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$server_port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "!! $server does not accept on port $server_port after 10 s" >&2
    exit 1
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    local pid kept=()
    for pid in "${server_pids[@]}"; do
        [[ $pid != "$server_pid" ]] && kept+=("$pid")
    done
    server_pids=("${kept[@]+"${kept[@]}"}")
}

# cpu_ticks PID: utime + stime of the whole process, in clock ticks.
cpu_ticks() {
    local stat fields
    stat=$(<"/proc/$1/stat")
    # The command name (field 2) may hold spaces; count fields after its ')'.
    read -r -a fields <<<"${stat##*) }"
    echo $((fields[11] + fields[12]))
}
clk_tck=$(getconf CLK_TCK)

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { # ratio VALUE BASE
    if [[ -z ${2:-} || $2 == "—" || $1 == "—" ]]; then
        echo "—"
    else
        awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "—"; else printf "%.2f", a / b }'
    fi
}

# json_number VALUE: VALUE as a JSON number, or null when it is empty, "—"
# or not a number.
json_number() {
    if [[ ${1:-} =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
        echo "$1"
    else
        echo null
    fi
}

# warn_if_busy: compiles running now disturb every figure.
warn_if_busy() {
    local busy
    if busy="$(pgrep -x rustc)"; then
        echo "!! warning: rustc is running ($(echo "$busy" | wc -l) processes);" \
            "figures will be disturbed; rerun when the machine is idle" >&2
    fi
}

# machine_line LOAD_BEFORE LOAD_AFTER: the "- Machine:" line of a report.
machine_line() {
    local cpu_model
    cpu_model="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
    echo "- Machine: $(nproc) cores, ${cpu_model:-unknown CPU}; load average $1 before, $2 after"
}
