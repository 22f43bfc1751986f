#!/usr/bin/env bash
# Loom models of weft's concurrent protocols, run group by group.
#
# What it checks: every `#[cfg(weft_loom)]` unit test named `loom_...` in
# weft-scheduler and weft-reactor, built with `--cfg weft_loom` so each
# crate's internal `sync` module swaps std/parking_lot primitives for loom's
# (and the scheduler's crossbeam queues for a Mutex<VecDeque> stand-in).
# Loom explores thread interleavings exhaustively up to the preemption
# bound below; a timed wait is modelled as one that may time out at any
# point (loom has no clock). The groups, each one `cargo test` run:
#
#   task-state  weft-scheduler loom_tests::task_state  the task state word and
#               reference count: wake, poll, complete, abort, waker clones,
#               JoinHandle drop, shutdown
#   parking     weft-scheduler loom_tests::parking  workers parking and waking
#               (idle/searching counts, no lost wake-up), the LIFO slot and
#               stealing, the worker parked in the driver
#   blocking    weft-scheduler loom_tests::blocking  blocking-pool threads:
#               spawn vs keep-alive exit, shutdown vs spawn
#   watchdog    weft-scheduler loom_tests::watchdog  the stall watchdog's
#               sleep/wake handshake and its shutdown
#   reactor     weft-reactor loom_  registration readiness and wakers, timer
#               wheel critical sections
#
# At the end it prints a table: group, models run (from libtest's
# "test result: ok. N passed"), preemption bound, seconds, result. A result
# of "ok (partial)" means some model stopped at LOOM_MAX_DURATION.
#
# Usage: bash ci/loom.sh [--quick | --full] [GROUPS | NAME] [harness args]
#   bash ci/loom.sh           LOOM_MAX_PREEMPTIONS from the environment, else 2
#   bash ci/loom.sh --quick   bound 1, no time limit: what .ci/run uses
#   bash ci/loom.sh --full    bound 3: a deep run, for nightly jobs and for
#                             changes to task/state.rs, idle.rs or park.rs
# After the mode, either a comma-separated list of groups to run
# (`bash ci/loom.sh --quick blocking,watchdog`) or a test-name filter that
# replaces `loom_` (each group then runs only its models that match it):
#   bash ci/loom.sh --full loom_wake_races_poll --nocapture
# Any further arguments go to the test harness. LOOM_MAX_BRANCHES is passed
# through when set; otherwise loom's default (1,000 branches per execution)
# applies.
#
# How long it takes on 2 cores: --quick about 3 minutes from clean (1.5 to
# 2 to compile loom and both crates in release mode, then 1.5 of exploring:
# the parking group's foreign-thread wake-up model takes 80 to 160 seconds
# depending on the machine's load, and every other group a second or two).
# Bound 2 takes about 5 minutes once built: the parking group's two
# two-worker spawn/wake models explore for minutes (one stops at
# LOOM_MAX_DURATION, default 300 seconds, and says so), the rest take under
# a minute together. --full takes far longer: the number of interleavings
# grows steeply with the bound, so there every slow model stops at the
# limit.
#
# It builds into target/loom: RUSTFLAGS applies to every crate, so sharing
# the normal target dir would throw away the normal build each time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

preemptions=${LOOM_MAX_PREEMPTIONS:-2}
# Bound 2 and 3 explode for the two-worker models; each model then explores
# for at most this many seconds and says if it stopped early. Bound 1
# (--quick) always completes and sets no limit.
max_duration=${LOOM_MAX_DURATION:-300}
case "${1:-}" in
    --quick) preemptions=1; max_duration=${LOOM_MAX_DURATION:-}; shift ;;
    --full) preemptions=3; shift ;;
esac
if [[ -n $max_duration ]]; then
    export LOOM_MAX_DURATION=$max_duration
fi
export LOOM_MAX_PREEMPTIONS=$preemptions
export RUSTFLAGS="--cfg weft_loom"

# name|crate|filter for the group's models.
groups=(
    "task-state|weft-scheduler|loom_tests::task_state::"
    "parking|weft-scheduler|loom_tests::parking::"
    "blocking|weft-scheduler|loom_tests::blocking::"
    "watchdog|weft-scheduler|loom_tests::watchdog::"
    "reactor|weft-reactor|loom_"
)
group_names=$(printf '%s\n' "${groups[@]}" | cut -d'|' -f1 | paste -sd, -)

selected=$group_names
name_filter=
if [[ $# -gt 0 && $1 != -* ]]; then
    if [[ ,$group_names, == *,"${1%%,*}",* ]]; then
        selected=$1
        for name in ${selected//,/ }; do
            if [[ ,$group_names, != *,$name,* ]]; then
                echo "ci/loom.sh: unknown group '$name' (groups: $group_names)" >&2
                exit 2
            fi
        done
    else
        name_filter=$1
    fi
    shift
fi

echo "ci/loom.sh: LOOM_MAX_PREEMPTIONS=$preemptions LOOM_MAX_DURATION=${max_duration:-<none>} LOOM_MAX_BRANCHES=${LOOM_MAX_BRANCHES:-<loom default>} groups=$selected filter=${name_filter:-<group>}"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
cargo_test() {
    local crate=$1
    shift
    cargo test -p "$crate" --release --lib --target-dir target/loom "$@"
}

# Build each crate once up front, so the group times below are exploring.
declare -A built
summary=()
failed=0
for entry in "${groups[@]}"; do
    IFS='|' read -r name crate _ <<<"$entry"
    [[ ,$selected, == *,$name,* && -z ${built[$crate]:-} ]] || continue
    start=$(date +%s)
    if cargo_test "$crate" --no-run; then
        built[$crate]=ok
    else
        built[$crate]=failed
        failed=1
    fi
    summary+=("build $crate|-|-|$(($(date +%s) - start))|${built[$crate]}")
done

for entry in "${groups[@]}"; do
    IFS='|' read -r name crate filter <<<"$entry"
    [[ ,$selected, == *,$name,* ]] || continue
    if [[ ${built[$crate]} != ok ]]; then
        summary+=("$name|0|$preemptions|0|not built")
        continue
    fi
    harness=("$filter")
    if [[ -n $name_filter ]]; then
        # Filters are alternatives; keep this group's models by skipping the
        # other groups of the same crate.
        harness=("$name_filter")
        for other in "${groups[@]}"; do
            IFS='|' read -r other_name other_crate other_filter <<<"$other"
            if [[ $other_crate == "$crate" && $other_name != "$name" ]]; then
                harness+=(--skip "$other_filter")
            fi
        done
    fi
    echo "ci/loom.sh: group $name ($crate, ${harness[*]})"
    log=$logs/$name.log
    start=$(date +%s)
    if cargo_test "$crate" -- "${harness[@]}" --nocapture "$@" 2>&1 | tee "$log"; then
        result=ok
        if grep -q 'LOOM_MAX_DURATION: partial' "$log"; then
            result="ok (partial)"
        fi
    else
        result=FAILED
        failed=1
    fi
    seconds=$(($(date +%s) - start))
    models=$(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed.*/\1/p' "$log" | awk '{n += $1} END {print n + 0}')
    summary+=("$name|$models|$preemptions|$seconds|$result")
done

echo
echo "ci/loom.sh: summary"
printf '%-22s %7s %6s %8s  %s\n' group models bound seconds result
for row in "${summary[@]}"; do
    IFS='|' read -r name models bound seconds result <<<"$row"
    printf '%-22s %7s %6s %8s  %s\n' "$name" "$models" "$bound" "$seconds" "$result"
done
if [[ $failed -ne 0 ]]; then
    echo "ci/loom.sh: FAILED (LOOM_MAX_PREEMPTIONS=$preemptions)"
    exit 1
fi
echo "ci/loom.sh: passed (LOOM_MAX_PREEMPTIONS=$preemptions)"
