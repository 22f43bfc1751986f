#!/usr/bin/env bash
# ci/echo-bench.sh — the TCP echo row of shared/BENCHMARKS.md: weft's
# echo-server example against its twins on tokio, smol and a bare mio loop
# (benches/servers/*-echo.rs), all echoing the same way (a 16 KiB buffer,
# read, write it all back, one task per connection).
#
# What it does:
#   1. builds the chosen servers and the load client (benches/load/
#      echo-load.rs) in release;
#   2. for ROUNDS rounds, in alternating order (weft, tokio, smol, mio,
#      weft, ...): starts a server on a free loopback port with WORKERS
#      worker threads, waits until it accepts, runs `echo-load` with
#      CONNECTIONS connections, each sending one SIZE-byte message at a time
#      and checking that it comes back unchanged, for WARMUP s not counted
#      and then DURATION s measured; echo-load reads the server's CPU time
#      (utime + stime from /proc/PID/stat) as the measured window opens and
#      as it closes, so the warm-up is not counted; stops the server and
#      warns if it logged anything but its "listening" and "closed" lines;
#   3. prints a markdown table: medians over the rounds of messages/s, the
#      round-trip latency percentiles (p50, p99, p99.9) and the server's CPU
#      time per message, and the ratios to tokio;
#   4. writes the same medians to target/echo-bench/summary.json (for
#      ci/bench.sh): {"date", "rounds", "duration_s", "connections", "size",
#      "workers", "servers": {"weft": {"msgs_per_s", "p50_us", "p99_us",
#      "p999_us", "cpu_us_per_msg", "bytes_verified" (the total over the
#      rounds)}, "tokio": ...}}.
# Logs and echo-load's outputs stay in target/echo-bench/.
#
# How long: building takes seconds from a warm target dir (a few minutes
# cold). Measuring takes about (WARMUP + DURATION + 0.5) s per server per
# round: about 1.5 minutes for the default four servers, 3 rounds; about
# 20 s with --quick. Every echo-load runs under `timeout` (and stops by
# itself once a message waits 5 s for its echo), and every server started is
# killed on exit, Ctrl-C included.
#
# Usage: ci/echo-bench.sh [--quick] [SERVER...]
#   SERVER: weft, tokio, smol, mio (default: all four, in that order)
#   --quick: ROUNDS=1 DURATION=2 WARMUP=1
# Env: ROUNDS (3), DURATION (measured seconds per run, 5), WARMUP (seconds
#      before it, 1), WORKERS (worker threads for every server, 2),
#      CONNECTIONS (64), SIZE (bytes per message, 64).
#
# Loopback only. On a 2-core machine echo-load's one thread and the server's
# two workers share the cores, so messages/s is bounded by the load
# generator too; CPU per message is the steadier figure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/bench-lib.sh
source ci/bench-lib.sh

protocol="echo"
weft_bin=echo-server
parse_bench_args "$@"
if [[ $quick -eq 1 ]]; then
    ROUNDS=1
    DURATION=2
    WARMUP=1
fi
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
WORKERS="${WORKERS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
SIZE="${SIZE:-64}"

build_servers echo-load
load_client="$bin_dir/examples/echo-load"
work="${CARGO_TARGET_DIR:-target}/echo-bench"
claim_work_dir "$work"

# json_field FILE NAME: the number NAME holds in echo-load's JSON line.
json_field() {
    sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1"
}

# --- measurement -------------------------------------------------------------

warn_if_busy
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

declare -A rate_runs p50_runs p99_runs p999_runs cpu_runs bytes_total
for server in "${servers[@]}"; do
    rate_runs[$server]=""
    p50_runs[$server]=""
    p99_runs[$server]=""
    p999_runs[$server]=""
    cpu_runs[$server]=""
    bytes_total[$server]=0
done

for ((round = 1; round <= ROUNDS; round++)); do
    for server in "${servers[@]}"; do
        tag="$server-round$round"
        start_server "$server" "$work/$tag.log"
        out="$work/$tag.json"
        if ! timeout --kill-after=5 "$(awk -v w="$WARMUP" -v d="$DURATION" 'BEGIN { printf "%.0f", w + d + 30 }')" \
            "$load_client" --connections "$CONNECTIONS" --size "$SIZE" --duration "$DURATION" \
            --warmup "$WARMUP" --server-pid "$server_pid" "127.0.0.1:$server_port" \
            >"$out" 2>"$work/$tag.load-stderr"; then
            echo "!! $server: echo-load failed (see $work/$tag.load-stderr and $work/$tag.log):" >&2
            cat "$work/$tag.load-stderr" >&2
            exit 1
        fi
        stop_server
        if grep -vqE 'listening on|: closed after [0-9]+ bytes$' "$work/$tag.log"; then
            echo "!! $server logged more than its 'listening' and 'closed' lines (see $work/$tag.log):" >&2
            grep -vE 'listening on|: closed after [0-9]+ bytes$' "$work/$tag.log" | head -n 5 >&2
        fi
        messages=$(json_field "$out" messages)
        rate=$(json_field "$out" msgs_per_s)
        cpu_us=$(awk -v t="$(json_field "$out" server_cpu_us)" -v n="$messages" \
            'BEGIN { printf "%.2f", t / n }')
        rate_runs[$server]+=" $rate"
        p50_runs[$server]+=" $(json_field "$out" p50_us)"
        p99_runs[$server]+=" $(json_field "$out" p99_us)"
        p999_runs[$server]+=" $(json_field "$out" p999_us)"
        cpu_runs[$server]+=" $cpu_us"
        bytes_total[$server]=$((bytes_total[$server] + $(json_field "$out" bytes_verified)))
        printf '    round %d %-6s %10.0f msgs/s  %6s µs CPU/message  p99.9 %s µs\n' \
            "$round" "$server" "$rate" "$cpu_us" "$(json_field "$out" p999_us)" >&2
    done
done

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report ------------------------------------------------------------------

declare -A rate_median p50_median p99_median p999_median cpu_median
for server in "${servers[@]}"; do
    # shellcheck disable=SC2086 # word splitting intended: one value per round
    rate_median[$server]=$(median ${rate_runs[$server]})
    # shellcheck disable=SC2086
    p50_median[$server]=$(median ${p50_runs[$server]})
    # shellcheck disable=SC2086
    p99_median[$server]=$(median ${p99_runs[$server]})
    # shellcheck disable=SC2086
    p999_median[$server]=$(median ${p999_runs[$server]})
    # shellcheck disable=SC2086
    cpu_median[$server]=$(median ${cpu_runs[$server]})
done

date_utc="$(date -u '+%Y-%m-%d %H:%M UTC')"
date_iso="$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo
echo "## TCP echo: $CONNECTIONS connections, $SIZE-byte messages, $date_utc"
echo
machine_line "$load_before" "$load_after"
echo "- Servers: $WORKERS worker threads each; echo-load (one mio thread) with $CONNECTIONS connections," \
    "one $SIZE-byte message in flight on each, ${WARMUP}s warm-up then ${DURATION}s measured;" \
    "$ROUNDS alternating round(s), medians"
echo "- Command: ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP WORKERS=$WORKERS" \
    "CONNECTIONS=$CONNECTIONS SIZE=$SIZE ci/echo-bench.sh ${servers[*]}"
echo
echo "| server | msgs/s | p50 µs | p99 µs | p99.9 µs | CPU µs/message | msgs/s ÷ tokio | p99.9 ÷ tokio | CPU ÷ tokio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for server in "${servers[@]}"; do
    printf '| %s | %.0f | %.0f | %.0f | %.0f | %s | %s | %s | %s |\n' \
        "$server" "${rate_median[$server]}" "${p50_median[$server]}" "${p99_median[$server]}" \
        "${p999_median[$server]}" "${cpu_median[$server]}" \
        "$(ratio "${rate_median[$server]}" "${rate_median[tokio]:-}")" \
        "$(ratio "${p999_median[$server]}" "${p999_median[tokio]:-}")" \
        "$(ratio "${cpu_median[$server]}" "${cpu_median[tokio]:-}")"
done
echo
echo "(every echoed byte was checked: $(for server in "${servers[@]}"; do
    printf '%s %s, ' "$server" "${bytes_total[$server]}"
done | sed 's/, $//') bytes; logs and echo-load's outputs: $work/)"

{
    printf '{"date": "%s", "rounds": %s, "duration_s": %s, "connections": %s, "size": %s, "workers": %s, "servers": {' \
        "$date_iso" "$ROUNDS" "$(json_number "$DURATION")" "$CONNECTIONS" "$SIZE" "$WORKERS"
    separator=""
    for server in "${servers[@]}"; do
        printf '%s"%s": {"msgs_per_s": %s, "p50_us": %s, "p99_us": %s, "p999_us": %s, "cpu_us_per_msg": %s, "bytes_verified": %s}' \
            "$separator" "$server" "$(json_number "${rate_median[$server]}")" \
            "$(json_number "${p50_median[$server]}")" "$(json_number "${p99_median[$server]}")" \
            "$(json_number "${p999_median[$server]}")" "$(json_number "${cpu_median[$server]}")" \
            "${bytes_total[$server]}"
        separator=", "
    done
    printf '}}\n'
} >"$work/summary.json"
echo "(summary: $work/summary.json)"
