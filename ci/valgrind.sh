#!/usr/bin/env bash
# An echo stress under valgrind (memcheck): examples/echo-stress.rs runs an
# echo server and 50 clients on one runtime with the default settings, about
# 4 MB through the reactor, every echoed byte checked against a checksum,
# then shuts the runtime down with the server's accept loop still pending.
# Valgrind checks every memory access of the whole process, without
# recompiling anything: reads of uninitialised or freed memory, invalid
# frees, bad arguments to system calls (buffers handed to read/write/epoll),
# and the memory still allocated at exit.
#
# Flags, each for a reason:
#   --leak-check=full --errors-for-leak-kinds=definite,indirect
#       a block no pointer reaches any more (definite), or reached only from
#       such a block (indirect), is a leak and fails the run. "Possibly
#       lost" blocks do not: in this program they are glibc's per-thread
#       allocations from pthread_create (kept in its stack cache after the
#       join) and crossbeam-epoch's list entries, reached through pointers
#       with tag bits in the low bits, which valgrind takes for interior
#       pointers. "Still reachable" blocks are std's and the global
#       allocator's state at exit.
#   --error-exitcode=1  any error or counted leak fails the script.
# No suppressions: nothing needs one.
#
# The program is a release build with debug info (so valgrind's stacks name
# the source lines), in target/valgrind so it does not disturb the normal
# release build.
#
# How long it takes on 2 cores (measured on a machine shared with other
# builds): the build about 80 s from clean and 10 s after a change to weft;
# the run 1 to 6 s under valgrind, depending on the load (0.2 s without).
#
# Usage:
#   bash ci/valgrind.sh          50 connections
#   bash ci/valgrind.sh 200      another connection count (80 KiB each)
# Limits: VALGRIND_BUILD_TIMEOUT (default 1200 s) and VALGRIND_RUN_TIMEOUT
# (default 300 s). Valgrind's full output is kept in
# target/valgrind/echo-stress.valgrind.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

connections=${1:-50}
build_limit=${VALGRIND_BUILD_TIMEOUT:-1200}
run_limit=${VALGRIND_RUN_TIMEOUT:-300}
dir=target/valgrind
log=$dir/echo-stress.valgrind.log

if ! command -v valgrind >/dev/null; then
    echo "ci/valgrind.sh: installing valgrind"
    sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind
fi

start=$(date +%s)
CARGO_PROFILE_RELEASE_DEBUG=true timeout --kill-after=30 "$build_limit" \
    cargo build --release -p weft-examples --bin echo-stress --target-dir "$dir"
echo "ci/valgrind.sh: built in $(($(date +%s) - start))s"

start=$(date +%s)
status=0
output=$(timeout --kill-after=30 "$run_limit" valgrind --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --log-file="$log" \
    "$dir/release/echo-stress" "$connections") || status=$?
seconds=$(($(date +%s) - start))
echo "$output"

# From the program's last line and valgrind's summary; "?" where one is
# missing (a crash, or a run cut short).
bytes=$(sed -n 's/^echo-stress: \([0-9]*\) bytes verified over \([0-9]*\) connections.*/\1/p' <<<"$output")
verified=$(sed -n 's/^echo-stress: \([0-9]*\) bytes verified over \([0-9]*\) connections.*/\2/p' <<<"$output")
definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1/p' "$log" | tr -d ,)
indirect=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1/p' "$log" | tr -d ,)
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tr -d ,)
# Without any leak at all valgrind prints "All heap blocks were freed".
if grep -q "All heap blocks were freed" "$log"; then
    definite=${definite:-0} indirect=${indirect:-0}
fi

echo "ci/valgrind.sh: bytes verified ${bytes:-?}, connections ${verified:-?}/$connections," \
    "leaks definite ${definite:-?} B / indirect ${indirect:-?} B, errors ${errors:-?}," \
    "${seconds}s under valgrind (exit status $status)"
if [[ $status -ne 0 || -z $bytes || ${definite:-1} != 0 || ${indirect:-1} != 0 || ${errors:-1} != 0 ]]; then
    echo "ci/valgrind.sh: FAILED; valgrind's report is in $log" >&2
    [[ $status -eq 124 || $status -eq 137 ]] && echo "ci/valgrind.sh: the run took over ${run_limit}s" >&2
    grep -E -A25 "Invalid|uninitiali|definitely lost in|indirectly lost in" "$log" | head -100 >&2 || true
    exit 1
fi
echo "ci/valgrind.sh: passed"
