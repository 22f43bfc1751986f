#!/usr/bin/env bash
# ci/http-bench.sh — the HTTP rows of shared/BENCHMARKS.md: weft's
# hello-http example against its twins on tokio, smol and a bare mio loop
# (benches/servers/), all answering byte for byte the same through
# examples/http/mod.rs.
#
# What it does:
#   1. installs wrk and strace if missing (apt-get; sudo when not root), and
#      raises the soft limit on open files (ulimit -n) to what the largest
#      connection count needs;
#   2. builds the chosen servers in release;
#   3. for ROUNDS rounds, for each connection count in CONNECTIONS, in
#      alternating order (weft, tokio, smol, mio, weft, ...): starts a server
#      on a free loopback port with WORKERS worker threads, waits until it
#      accepts, checks its answer to one request, runs `wrk -t1 -cC
#      -dDURATION --latency` against it and records req/s, p99 latency and
#      the server's CPU time (utime + stime from /proc/PID/stat, before and
#      after) per request; meanwhile, every half second, counts the
#      connections the server holds, and warns if it never held all C at
#      once; stops it;
#   4. once per server, on a fresh server and at the first connection count,
#      counts system calls per request during two `wrk -d${SYSCALL_DURATION}s`
#      runs: one counted by perf (tracepoint `raw_syscalls:sys_enter` plus
#      the common calls by name), in the kernel and at full speed, skipped
#      where perf or its tracepoints are unavailable; one with `strace -f -c`
#      attached, which names every call but stops the server at each, so
#      requests pile up, every epoll_wait returns many events and an eager
#      extra read finds data: strace undercounts (a bare mio loop: 2.03 under
#      strace, 2.38 by perf; smol: 2.1 against 5.7), yet it is what
#      shared/TOOLING.md prescribes;
#   5. prints a markdown table per connection count: medians over the rounds
#      and ratios to tokio, then the busiest system calls per request for
#      each server;
#   6. writes the same medians to target/http-bench/summary.json (for
#      ci/bench.sh): {"date", "rounds", "duration_s", "workers",
#      "connections": {"100": {"weft": {"req_per_s", "p99_ms",
#      "cpu_us_per_req", "connections_held" (the most held at once, in the
#      worst round)}, "tokio": ...}, "1000": ...}, "syscalls": {"weft":
#      {"strace", "perf", "epoll_wait_perf"} (per request; null where not
#      measured), ...}}.
# Logs and the outputs of wrk, perf and strace stay in target/http-bench/.
#
# How long: building takes seconds from a warm target dir (a few minutes
# cold). Measuring takes about (DURATION + 1) s per server per connection
# count per round plus (2 x SYSCALL_DURATION + 2) s per server: about 3
# minutes for the default four servers, two connection counts, 3 rounds of
# 5 s; under a minute with --quick. Every wrk, perf and strace runs under
# `timeout`, and every server started is killed on exit, Ctrl-C included.
#
# Usage: ci/http-bench.sh [--quick] [SERVER...]
#   SERVER: weft, tokio, smol, mio (default: all four, in that order)
#   --quick: ROUNDS=1 DURATION=2 SYSCALL_DURATION=2
# Env: ROUNDS (3), DURATION (seconds per wrk run, 5), WORKERS (worker threads
#      for every server, 2), CONNECTIONS (wrk's connection counts, a list:
#      "100 1000"), SYSCALL_DURATION (3).
#
# Loopback only. On a 2-core machine wrk's one thread and the server's two
# workers share the cores, so req/s is bounded by the load generator; CPU per
# request and system calls per request are the steadier figures.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/bench-lib.sh
source ci/bench-lib.sh

protocol="http"
weft_bin=hello-http
parse_bench_args "$@"
if [[ $quick -eq 1 ]]; then
    ROUNDS=1
    DURATION=2
    SYSCALL_DURATION=2
fi
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WORKERS="${WORKERS:-2}"
read -r -a connection_counts <<<"${CONNECTIONS:-100 1000}"
for conns in "${connection_counts[@]}"; do
    if ! [[ $conns =~ ^[1-9][0-9]*$ ]]; then
        echo "CONNECTIONS=\"${CONNECTIONS:-}\": expected positive integers, e.g. \"100 1000\"" >&2
        exit 2
    fi
done
SYSCALL_DURATION="${SYSCALL_DURATION:-3}"

# --- tools -----------------------------------------------------------------

install_missing wrk strace

# wrk and each server hold one descriptor per connection, plus a few of
# their own; both inherit this shell's limit.
max_conns=$(printf '%s\n' "${connection_counts[@]}" | sort -n | tail -n1)
files_needed=$((max_conns + 256))
if [[ $(ulimit -Sn) != unlimited && $(ulimit -Sn) -lt $files_needed ]]; then
    if [[ $(ulimit -Hn) == unlimited || $(ulimit -Hn) -ge $files_needed ]]; then
        ulimit -Sn "$files_needed"
    else
        echo "!! the hard limit on open files ($(ulimit -Hn)) is below the $files_needed that" \
            "-c$max_conns needs; raise it (limits.conf, or ulimit -Hn as root)" >&2
        exit 1
    fi
fi

# --- build -----------------------------------------------------------------

# shellcheck disable=SC2119 # no extra examples: wrk is the load client
build_servers
work="${CARGO_TARGET_DIR:-target}/http-bench"
claim_work_dir "$work"

# The exact bytes every server must send for one GET with Connection: close.
expected_response=$'HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHello, world!'

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

# run_wrk CONNS DURATION OUT: wrk against the current server; its output in
# OUT.
run_wrk() {
    timeout --kill-after=5 $(($2 + 30)) \
        wrk -t1 -c"$1" -d"$2"s --latency "http://127.0.0.1:$server_port/" >"$3"
}

# connections_held: the established connections of the current server, as
# the server's side of them (ss), or its sockets without ss.
connections_held() {
    if command -v ss >/dev/null 2>&1; then
        ss -Htn state established "( sport = :$server_port )" | wc -l
    else
        find "/proc/$server_pid/fd" -lname 'socket:*' 2>/dev/null | wc -l
    fi
}

# max_connections_held SECONDS: the most connections the current server held
# at once, sampled every half second for SECONDS. wrk opens its connections
# at the start, but at -c1000 the listen backlog overflows and the dropped
# SYNs come back a second later, so a single early sample falls short.
max_connections_held() {
    local max=0 n i
    for ((i = 0; i < $1 * 2; i++)); do
        sleep 0.5
        n=$(connections_held)
        ((n > max)) && max=$n
    done
    echo "$max"
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

# --- measurement -------------------------------------------------------------

warn_if_busy
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# Per-round figures, keyed "SERVER cCONNS".
declare -A rps_runs cpu_runs p99_runs held_min
declare -A perf_per_request strace_per_request epoll_per_request perf_top strace_top
for server in "${servers[@]}"; do
    for conns in "${connection_counts[@]}"; do
        rps_runs[$server c$conns]=""
        cpu_runs[$server c$conns]=""
        p99_runs[$server c$conns]=""
        held_min[$server c$conns]=""
    done
done

for ((round = 1; round <= ROUNDS; round++)); do
    for conns in "${connection_counts[@]}"; do
        for server in "${servers[@]}"; do
            key="$server c$conns"
            tag="$server-c$conns-round$round"
            start_server "$server" "$work/$tag.log"
            check_response "$server" "$work/$tag.response"
            before=$(cpu_ticks "$server_pid")
            run_wrk "$conns" "$DURATION" "$work/$tag.wrk" &
            wrk_pid=$!
            held=$(max_connections_held "$DURATION")
            wait "$wrk_pid"
            after=$(cpu_ticks "$server_pid")
            stop_server
            requests=$(wrk_requests "$work/$tag.wrk")
            rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/$tag.wrk")
            p99=$(wrk_p99_us "$work/$tag.wrk")
            if [[ -z $requests || $requests -eq 0 ]]; then
                echo "!! $server: wrk completed no requests (see $work/$tag.wrk)" >&2
                exit 1
            fi
            if [[ $held -lt $conns ]]; then
                echo "!! $server never held all of wrk's $conns connections at once, at most $held" \
                    "(see $work/$tag.log and $work/$tag.wrk)" >&2
            fi
            cpu_us=$(awk -v t=$((after - before)) -v hz="$clk_tck" -v n="$requests" \
                'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
            rps_runs[$key]+=" $rps"
            cpu_runs[$key]+=" $cpu_us"
            p99_runs[$key]+=" $p99"
            if [[ -z ${held_min[$key]} || $held -lt ${held_min[$key]} ]]; then
                held_min[$key]=$held
            fi
            printf '    round %d c%-5s %-6s %10.0f req/s  %6s µs CPU/request  p99 %s µs  %s connections held\n' \
                "$round" "$conns" "$server" "$rps" "$cpu_us" "$p99" "$held" >&2
        done
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
epoll_events=0
for call in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait \
    epoll_pwait2 epoll_ctl futex sched_yield timerfd_settime; do
    for tracefs in /sys/kernel/tracing /sys/kernel/debug/tracing; do
        if [[ -d $tracefs/events/syscalls/sys_enter_$call ]]; then
            perf_events+=",syscalls:sys_enter_$call"
            [[ $call == epoll_wait || $call == epoll_pwait* ]] && epoll_events=1
            break
        fi
    done
done

syscall_conns=${connection_counts[0]}
for server in "${servers[@]}"; do
    tag="$server-syscalls"
    start_server "$server" "$work/$tag.log"

    perf_per_request[$server]="—"
    epoll_per_request[$server]="—"
    if [[ $perf_ok -eq 1 ]]; then
        # perf counts the server's calls for as long as wrk runs.
        timeout --kill-after=5 $((SYSCALL_DURATION + 30)) \
            perf stat -x, -e "$perf_events" -p "$server_pid" -o "$work/$tag.perf" -- \
            wrk -t1 -c"$syscall_conns" -d"$SYSCALL_DURATION"s "http://127.0.0.1:$server_port/" \
            >"$work/$tag.perf-wrk"
        requests=$(wrk_requests "$work/$tag.perf-wrk")
        perf_per_request[$server]=$(awk -F, -v n="$requests" \
            '$3 == "raw_syscalls:sys_enter" && $1 ~ /^[0-9]+$/ { printf "%.2f", $1 / n }' "$work/$tag.perf")
        if [[ $epoll_events -eq 1 ]]; then
            epoll_per_request[$server]=$(awk -F, -v n="$requests" '
                $1 ~ /^[0-9]+$/ && $3 ~ /^syscalls:sys_enter_epoll_(wait|pwait|pwait2)$/ { calls += $1 }
                END { printf "%.2f", calls / n }' "$work/$tag.perf")
        fi
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
        run_wrk "$syscall_conns" "$SYSCALL_DURATION" "$work/$tag.strace-wrk"
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
    printf '    syscalls %-6s %s per request (perf), %s (strace), at c%s\n' \
        "$server" "${perf_per_request[$server]}" "${strace_per_request[$server]}" "$syscall_conns" >&2
done

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ------------------------------------------------------------------

declare -A rps_median cpu_median p99_median
for key in "${!rps_runs[@]}"; do
    # shellcheck disable=SC2086 # word splitting intended: one value per round
    rps_median[$key]=$(median ${rps_runs[$key]})
    # shellcheck disable=SC2086
    cpu_median[$key]=$(median ${cpu_runs[$key]})
    # shellcheck disable=SC2086
    p99_median[$key]=$(median ${p99_runs[$key]})
done

date_utc="$(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "## HTTP keep-alive: hello-world servers, $date_utc"
echo
machine_line "$load_before" "$load_after"
echo "- Servers: $WORKERS worker threads each; wrk -t1 -c{${connection_counts[*]}} -d${DURATION}s, $ROUNDS alternating round(s), medians;" \
    "syscalls from one perf and one strace -f -c run of ${SYSCALL_DURATION}s per server at -c$syscall_conns"
echo "- Command: ROUNDS=$ROUNDS DURATION=$DURATION WORKERS=$WORKERS CONNECTIONS=\"${connection_counts[*]}\"" \
    "SYSCALL_DURATION=$SYSCALL_DURATION ci/http-bench.sh ${servers[*]}"
for conns in "${connection_counts[@]}"; do
    echo
    echo "### wrk -c$conns"
    echo
    echo "| server | req/s | CPU µs/request | syscalls/request (perf) | syscalls/request (strace) | p99 latency µs | connections held | req/s ÷ tokio | CPU ÷ tokio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for server in "${servers[@]}"; do
        key="$server c$conns"
        perf_cell="—" strace_cell="—"
        if [[ $conns == "$syscall_conns" ]]; then
            perf_cell=${perf_per_request[$server]} strace_cell=${strace_per_request[$server]}
        fi
        printf '| %s | %.0f | %s | %s | %s | %.0f | %s | %s | %s |\n' \
            "$server" "${rps_median[$key]}" "${cpu_median[$key]}" "$perf_cell" "$strace_cell" \
            "${p99_median[$key]}" "${held_min[$key]}" \
            "$(ratio "${rps_median[$key]}" "${rps_median[tokio c$conns]:-}")" \
            "$(ratio "${cpu_median[$key]}" "${cpu_median[tokio c$conns]:-}")"
    done
done
echo
echo "System calls per request at -c$syscall_conns, busiest first: perf's count at full speed, then strace's,"
echo "which names every call but slows the server so much that each epoll_wait returns many events:"
echo
for server in "${servers[@]}"; do
    echo "- $server: ${perf_top[$server]:-—} (perf); ${strace_top[$server]:-—} (strace)"
done
echo
echo "(logs and the outputs of wrk, perf and strace: $work/)"

{
    printf '{"date": "%s", "rounds": %s, "duration_s": %s, "workers": %s, "connections": {' \
        "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$ROUNDS" "$(json_number "$DURATION")" "$WORKERS"
    count_separator=""
    for conns in "${connection_counts[@]}"; do
        printf '%s"%s": {' "$count_separator" "$conns"
        count_separator=", "
        separator=""
        for server in "${servers[@]}"; do
            key="$server c$conns"
            printf '%s"%s": {"req_per_s": %s, "p99_ms": %s, "cpu_us_per_req": %s, "connections_held": %s}' \
                "$separator" "$server" "$(json_number "${rps_median[$key]}")" \
                "$(json_number "$(awk -v us="${p99_median[$key]}" 'BEGIN { printf "%.3f", us / 1000 }')")" \
                "$(json_number "${cpu_median[$key]}")" "$(json_number "${held_min[$key]}")"
            separator=", "
        done
        printf '}'
    done
    printf '}, "syscalls": {'
    separator=""
    for server in "${servers[@]}"; do
        printf '%s"%s": {"strace": %s, "perf": %s, "epoll_wait_perf": %s}' "$separator" "$server" \
            "$(json_number "${strace_per_request[$server]}")" "$(json_number "${perf_per_request[$server]}")" \
            "$(json_number "${epoll_per_request[$server]}")"
        separator=", "
    done
    printf '}}\n'
} >"$work/summary.json"
echo "(summary: $work/summary.json)"
