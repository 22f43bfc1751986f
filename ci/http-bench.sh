#!/usr/bin/env bash
# ci/http-bench.sh — the HTTP rows of shared/BENCHMARKS.md: weft's
# hello-http example against its twins on tokio, smol and a bare mio loop
# (benches/servers/), all answering byte for byte the same through
# examples/http/mod.rs.
#
# What it does:
#   1. installs wrk and strace if missing (apt-get; sudo when not root);
#   2. builds the chosen servers in release;
#   3. for ROUNDS rounds, in alternating order (weft, tokio, smol, mio,
#      weft, ...): starts a server on a free loopback port with WORKERS
#      worker threads, waits until it accepts, checks its answer to one
#      request, runs `wrk -t1 -cCONNECTIONS -dDURATION --latency` against it
#      and records req/s, p99 latency and the server's CPU time (utime +
#      stime from /proc/PID/stat, before and after) per request; stops it;
#   4. once per server, on a fresh server, counts system calls per request
#      during two `wrk -d${SYSCALL_DURATION}s` runs: one counted by perf
#      (tracepoint `raw_syscalls:sys_enter` plus the common calls by name),
#      in the kernel and at full speed, skipped where perf or its tracepoints
#      are unavailable; one with `strace -f -c` attached, which names every
#      call but stops the server at each, so requests pile up, every
#      epoll_wait returns many events and an eager extra read finds data:
#      strace undercounts (a bare mio loop: 2.03 under strace, 2.38 by perf;
#      smol: 2.1 against 5.7), yet it is what shared/TOOLING.md prescribes;
#   5. prints a markdown table: medians over the rounds and ratios to tokio,
#      then the busiest system calls per request for each server.
# Logs and the outputs of wrk, perf and strace stay in target/http-bench/.
#
# How long: building takes seconds from a warm target dir (a few minutes
# cold). Measuring takes about (DURATION + 1) s per server per round plus
# (2 x SYSCALL_DURATION + 2) s per server: about 2 minutes for the default
# four servers, 3 rounds of 5 s; about 45 s with --quick. Every wrk, perf and
# strace runs under `timeout`, and every server started is killed on exit,
# Ctrl-C included.
#
# Usage: ci/http-bench.sh [--quick] [SERVER...]
#   SERVER: weft, tokio, smol, mio (default: all four, in that order)
#   --quick: ROUNDS=1 DURATION=2
# Env: ROUNDS (3), DURATION (seconds per wrk run, 5), WORKERS (worker threads
#      for every server, 2), CONNECTIONS (100), SYSCALL_DURATION (3).
#
# Loopback only. On a 2-core machine wrk's one thread and the server's two
# workers share the cores, so req/s is bounded by the load generator; CPU per
# request and system calls per request are the steadier figures.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

servers=()
quick=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1 ;;
        -h | --help) usage; exit 0 ;;
        weft | tokio | smol | mio) servers+=("$1") ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ ${#servers[@]} -eq 0 ]]; then
    servers=(weft tokio smol mio)
fi
if [[ $quick -eq 1 ]]; then
    ROUNDS=1
    DURATION=2
fi
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WORKERS="${WORKERS:-2}"
CONNECTIONS="${CONNECTIONS:-100}"
SYSCALL_DURATION="${SYSCALL_DURATION:-3}"

# --- tools -----------------------------------------------------------------

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v strace >/dev/null 2>&1 || missing+=(strace)
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "==> installing ${missing[*]}" >&2
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk strace
fi

# --- build -----------------------------------------------------------------

binary_name() {
    case "$1" in
        weft) echo hello-http ;;
        *) echo "$1-http" ;;
    esac
}

bench_bins=()
for server in "${servers[@]}"; do
    if [[ $server != weft ]]; then
        bench_bins+=(--example "$(binary_name "$server")")
    fi
done
if [[ " ${servers[*]} " == *" weft "* ]]; then
    echo "==> cargo build --release -p weft-examples --bin hello-http" >&2
    cargo build --release -p weft-examples --bin hello-http
fi
if [[ ${#bench_bins[@]} -gt 0 ]]; then
    echo "==> cargo build --release -p weft-benches ${bench_bins[*]}" >&2
    cargo build --release -p weft-benches "${bench_bins[@]}"
fi
bin_dir="${CARGO_TARGET_DIR:-target}/release"

# weft's server is a bin of weft-examples; its twins are examples of
# weft-benches (so tokio and smol stay dev-dependencies there).
server_path() {
    case "$1" in
        weft) echo "$bin_dir/hello-http" ;;
        *) echo "$bin_dir/examples/$1-http" ;;
    esac
}
work="${CARGO_TARGET_DIR:-target}/http-bench"
rm -rf "$work"
mkdir -p "$work"

# --- servers -----------------------------------------------------------------

# Every server this script started; all are killed on exit.
server_pids=()
cleanup() {
    local pid
    for pid in "${server_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${server_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    server_pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The exact bytes every server must send for one GET with Connection: close.
expected_response=$'HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHello, world!'

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

# check_response SERVER FILE: one request, compared byte for byte.
check_response() {
    local server=$1 file=$2
    (
        exec 3<>"/dev/tcp/127.0.0.1/$server_port"
        printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
        timeout 5 cat <&3
    ) >"$file" || true
    if ! cmp -s "$file" <(printf '%s' "$expected_response"); then
        echo "!! $server answered differently from the others (see $file):" >&2
        od -c "$file" | head -n 20 >&2
        exit 1
    fi
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

# run_wrk DURATION OUT: wrk against the current server; its output in OUT.
run_wrk() {
    timeout --kill-after=5 $(($1 + 30)) \
        wrk -t1 -c"$CONNECTIONS" -d"$1"s --latency "http://127.0.0.1:$server_port/" >"$2"
}

# wrk_requests OUT: requests completed; warns about errors wrk saw.
wrk_requests() {
    if grep -qE 'Non-2xx|Socket errors' "$1"; then
        echo "!! wrk saw errors (see $1): $(grep -E 'Non-2xx|Socket errors' "$1" | tr -s ' ')" >&2
    fi
    awk '/ requests in / { print $1 }' "$1"
}

# wrk_p99_us OUT: the 99th percentile latency in microseconds.
wrk_p99_us() {
    awk '$1 == "99%" {
        v = $2 + 0
        if ($2 ~ /us$/) m = 1; else if ($2 ~ /ms$/) m = 1000; else if ($2 ~ /s$/) m = 1000000; else m = 1
        printf "%.0f\n", v * m
    }' "$1"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- measurement -------------------------------------------------------------

if busy="$(pgrep -x rustc)"; then
    echo "!! warning: rustc is running ($(echo "$busy" | wc -l) processes);" \
        "figures will be disturbed; rerun when the machine is idle" >&2
fi
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

declare -A rps_runs cpu_runs p99_runs perf_per_request strace_per_request perf_top strace_top
for server in "${servers[@]}"; do
    rps_runs[$server]=""
    cpu_runs[$server]=""
    p99_runs[$server]=""
done

for ((round = 1; round <= ROUNDS; round++)); do
    for server in "${servers[@]}"; do
        tag="$server-round$round"
        start_server "$server" "$work/$tag.log"
        check_response "$server" "$work/$tag.response"
        before=$(cpu_ticks "$server_pid")
        run_wrk "$DURATION" "$work/$tag.wrk"
        after=$(cpu_ticks "$server_pid")
        stop_server
        requests=$(wrk_requests "$work/$tag.wrk")
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/$tag.wrk")
        p99=$(wrk_p99_us "$work/$tag.wrk")
        if [[ -z $requests || $requests -eq 0 ]]; then
            echo "!! $server: wrk completed no requests (see $work/$tag.wrk)" >&2
            exit 1
        fi
        cpu_us=$(awk -v t=$((after - before)) -v hz="$clk_tck" -v n="$requests" \
            'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
        rps_runs[$server]+=" $rps"
        cpu_runs[$server]+=" $cpu_us"
        p99_runs[$server]+=" $p99"
        printf '    round %d %-6s %10.0f req/s  %6s µs CPU/request  p99 %s µs\n' \
            "$round" "$server" "$rps" "$cpu_us" "$p99" >&2
    done
done

# perf counts system calls in the kernel, without stopping the server, so its
# count is the undisturbed one; it needs perf and tracepoint access, which
# some machines lack. strace works everywhere and names the calls.
perf_ok=0
if command -v perf >/dev/null 2>&1 &&
    perf stat -x, -e raw_syscalls:sys_enter -o "$work/perf-probe" -- true >/dev/null 2>&1 &&
    grep -qE '^[0-9]+,' "$work/perf-probe"; then
    perf_ok=1
fi
# Besides the total, the calls a server's request path makes, where this
# kernel has a tracepoint for them (perf refuses unknown events).
perf_events=raw_syscalls:sys_enter
for call in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait \
    epoll_pwait2 epoll_ctl futex sched_yield timerfd_settime; do
    for tracefs in /sys/kernel/tracing /sys/kernel/debug/tracing; do
        if [[ -d $tracefs/events/syscalls/sys_enter_$call ]]; then
            perf_events+=",syscalls:sys_enter_$call"
            break
        fi
    done
done

for server in "${servers[@]}"; do
    tag="$server-syscalls"
    start_server "$server" "$work/$tag.log"

    perf_per_request[$server]="—"
    if [[ $perf_ok -eq 1 ]]; then
        # perf counts the server's calls for as long as wrk runs.
        timeout --kill-after=5 $((SYSCALL_DURATION + 30)) \
            perf stat -x, -e "$perf_events" -p "$server_pid" -o "$work/$tag.perf" -- \
            wrk -t1 -c"$CONNECTIONS" -d"$SYSCALL_DURATION"s "http://127.0.0.1:$server_port/" \
            >"$work/$tag.perf-wrk"
        requests=$(wrk_requests "$work/$tag.perf-wrk")
        perf_per_request[$server]=$(awk -F, -v n="$requests" \
            '$3 == "raw_syscalls:sys_enter" && $1 ~ /^[0-9]+$/ { printf "%.2f", $1 / n }' "$work/$tag.perf")
        # "1.00 recvfrom, 1.00 sendto, 0.35 epoll_wait, 0.02 other".
        perf_top[$server]=$(awk -F, -v n="$requests" '
            $1 !~ /^[0-9]+$/ { next }
            $3 == "raw_syscalls:sys_enter" { total = $1; next }
            { named += $1; if ($1 / n >= 0.005) { sub(/^syscalls:sys_enter_/, "", $3); printf "%.2f %s\n", $1 / n, $3 } }
            END { printf "%.2f other\n", (total - named) / n }' "$work/$tag.perf" |
            sort -gr | paste -sd, - | sed 's/,/, /g')
    fi

    # -f with -p attaches every thread of the process; -c counts calls.
    : >"$work/$tag.strace-stderr"
    timeout --kill-after=5 $((SYSCALL_DURATION + 60)) \
        strace -f -c -p "$server_pid" -o "$work/$tag.strace" 2>"$work/$tag.strace-stderr" &
    strace_pid=$!
    attached=0
    for ((i = 0; i < 100; i++)); do
        if grep -q attached "$work/$tag.strace-stderr"; then
            attached=1
            break
        fi
        kill -0 "$strace_pid" 2>/dev/null || break
        sleep 0.1
    done
    strace_per_request[$server]="—"
    if [[ $attached -eq 1 ]]; then
        run_wrk "$SYSCALL_DURATION" "$work/$tag.strace-wrk"
        # timeout passes the signal on; strace detaches and writes its summary.
        kill -INT "$strace_pid" 2>/dev/null || true
        wait "$strace_pid" 2>/dev/null || true
        requests=$(wrk_requests "$work/$tag.strace-wrk")
        strace_per_request[$server]=$(awk -v n="$requests" \
            '$NF == "total" { printf "%.2f", $4 / n }' "$work/$tag.strace")
        # The busiest calls, per request: "1.00 recvfrom, 1.00 sendto, ...".
        strace_top[$server]=$(awk -v n="$requests" \
            '$1 ~ /^[0-9.]+$/ && $NF != "total" && $4 / n >= 0.005 { printf "%.2f %s\n", $4 / n, $NF }' \
            "$work/$tag.strace" | sort -gr | head -n 6 | paste -sd, - | sed 's/,/, /g')
    else
        echo "!! strace could not attach to $server (see $work/$tag.strace-stderr);" \
            "ptrace may be forbidden here" >&2
        kill -TERM "$strace_pid" 2>/dev/null || true
        wait "$strace_pid" 2>/dev/null || true
    fi
    stop_server
    printf '    syscalls %-6s %s per request (perf), %s (strace)\n' \
        "$server" "${perf_per_request[$server]}" "${strace_per_request[$server]}" >&2
done

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ------------------------------------------------------------------

declare -A rps_median cpu_median p99_median
for server in "${servers[@]}"; do
    # shellcheck disable=SC2086 # word splitting intended: one value per round
    rps_median[$server]=$(median ${rps_runs[$server]})
    # shellcheck disable=SC2086
    cpu_median[$server]=$(median ${cpu_runs[$server]})
    # shellcheck disable=SC2086
    p99_median[$server]=$(median ${p99_runs[$server]})
done

ratio() { # ratio VALUE BASE
    if [[ -z ${2:-} || $2 == "—" || $1 == "—" ]]; then
        echo "—"
    else
        awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "—"; else printf "%.2f", a / b }'
    fi
}

cpu_model="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
echo
echo "## HTTP keep-alive: hello-world servers, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- Machine: $(nproc) cores, ${cpu_model:-unknown CPU}; load average $load_before before, $load_after after"
echo "- Servers: $WORKERS worker threads each; wrk -t1 -c$CONNECTIONS -d${DURATION}s, $ROUNDS alternating round(s), medians;" \
    "syscalls from one perf and one strace -f -c run of ${SYSCALL_DURATION}s per server"
echo "- Command: ROUNDS=$ROUNDS DURATION=$DURATION WORKERS=$WORKERS CONNECTIONS=$CONNECTIONS ci/http-bench.sh ${servers[*]}"
echo
echo "| server | req/s | CPU µs/request | syscalls/request (perf) | syscalls/request (strace) | p99 latency µs | req/s ÷ tokio | CPU ÷ tokio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for server in "${servers[@]}"; do
    printf '| %s | %.0f | %s | %s | %s | %.0f | %s | %s |\n' \
        "$server" "${rps_median[$server]}" "${cpu_median[$server]}" \
        "${perf_per_request[$server]}" "${strace_per_request[$server]}" "${p99_median[$server]}" \
        "$(ratio "${rps_median[$server]}" "${rps_median[tokio]:-}")" \
        "$(ratio "${cpu_median[$server]}" "${cpu_median[tokio]:-}")"
done
echo
echo "System calls per request, busiest first: perf's count at full speed, then strace's, which names"
echo "every call but slows the server so much that each epoll_wait returns many events:"
echo
for server in "${servers[@]}"; do
    echo "- $server: ${perf_top[$server]:-—} (perf); ${strace_top[$server]:-—} (strace)"
done
echo
echo "(logs and the outputs of wrk, perf and strace: $work/)"
