#!/usr/bin/env bash
# Loom models of weft-scheduler's concurrent protocol.
#
# What it checks: every `#[cfg(weft_loom)]` unit test whose name contains
# `loom_` in weft-scheduler, built with `--cfg weft_loom` so the crate's
# internal `sync` module swaps std/parking_lot primitives for loom's (and the
# crossbeam queues for a Mutex<VecDeque> stand-in). The models cover the task
# state word (wake vs poll vs complete vs abort vs JoinHandle drop vs
# shutdown) and parking with the idle/searching bookkeeping (no lost wake-up
# when a task is pushed while every worker goes to sleep). Loom explores
# thread interleavings exhaustively up to the preemption bound below.
#
# Modes (the bound is the number of forced preemptions per execution):
#   bash ci/loom.sh           LOOM_MAX_PREEMPTIONS from the environment, else 2
#   bash ci/loom.sh --quick   bound 1: what .ci/run uses
#   bash ci/loom.sh --full    bound 3: a deep run, for nightly jobs and for
#                             changes to task/state.rs, idle.rs or park.rs
# After the mode, an optional name filter replaces `loom_`, and any further
# arguments go to the test harness:
#   bash ci/loom.sh --full loom_wake_races_poll --nocapture
# LOOM_MAX_BRANCHES is passed through when set; otherwise loom's default
# (1,000 branches per execution) applies.
#
# How long it takes on 2 cores: --quick about 3 minutes from clean (1 to
# compile loom and the crate in release mode, 1 to 2 to explore the models;
# the foreign-thread wake-up model is the slowest). Bound 2 takes several
# times longer and --full far longer: the number of interleavings grows
# steeply with the bound.
#
# It builds into target/loom: RUSTFLAGS applies to every crate, so sharing the
# normal target dir would throw away the normal build each time.
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
filter=loom_
if [[ $# -gt 0 && $1 != -* ]]; then
    filter=$1
    shift
fi

echo "ci/loom.sh: LOOM_MAX_PREEMPTIONS=$preemptions LOOM_MAX_DURATION=${max_duration:-<none>}s per model LOOM_MAX_BRANCHES=${LOOM_MAX_BRANCHES:-<loom default>} filter=$filter"
start=$(date +%s)
RUSTFLAGS="--cfg weft_loom" LOOM_MAX_PREEMPTIONS=$preemptions \
    cargo test -p weft-scheduler --release --lib --target-dir target/loom -- "$filter" --nocapture "$@"
echo "ci/loom.sh: passed in $(($(date +%s) - start))s (LOOM_MAX_PREEMPTIONS=$preemptions)"
