#!/usr/bin/env bash
# Under Miri, which checks every unsafe access at run time (use after free,
# out-of-bounds and misaligned accesses, data races, aliasing violations,
# invalid values):
#   1. weft-scheduler's unit tests: the task harness, queues, wakers,
#      blocking pool and a whole scheduler;
#   2. weft-reactor's timer-wheel tests (the reactor's other tests run real
#      sockets, which Miri's isolation forbids);
#   3. the JoinSet integration tests (tests/tests/join_set.rs) on a whole
#      runtime, reactor included: Miri emulates epoll and eventfd, which is
#      all an idle mio driver calls. Worker counts and task counts shrink
#      under cfg(miri) (1 and 2 workers, at most 300 tasks per test).
# Nightly only.
#
# Modes:
#   bash ci/miri.sh            all three
#   bash ci/miri.sh --quick    only 1 (what .ci/run runs: the task harness)
# Further arguments go to cargo test in step 1, e.g. a test name filter:
#   bash ci/miri.sh --quick abort_
#
# Flags (MIRIFLAGS), each for a reason:
#   -Zmiri-tree-borrows   use the Tree Borrows aliasing model instead of
#                         Stacked Borrows: crossbeam-deque, which the
#                         scheduler's queues are built on, is not clean under
#                         Stacked Borrows' stricter rules, and it is not our
#                         code to fix.
#   -Zmiri-ignore-leaks   worker threads of a global runtime can outlive the
#                         test that started it, and Miri would report their
#                         memory as leaked. Task leaks are still caught: the
#                         tests count destructor calls instead.
#
# Expect a warning or two about an "integer-to-pointer cast": they come from
# crossbeam-epoch (under crossbeam-deque), not from weft.
# -Zmiri-permissive-provenance would silence them without changing what Miri
# checks.
#
# How long it takes on 2 cores: about 15 s for the scheduler's tests once
# built, 35 s for the wheel's and 4 minutes for JoinSet's (22 tests, each on
# a 1- and a 2-worker runtime); the first run on a machine also builds
# Miri's sysroot and the crates (a few minutes). Miri interprets every
# instruction, so the tests shrink their task counts under cfg(miri).
#
# It builds into target/miri, so it does not disturb the normal build:
# cargo-miri appends `miri` to the target dir by itself (passing
# `--target-dir target/miri` would end up in target/miri/miri).
# Any arguments go to cargo test, e.g. a test name filter:
#   bash ci/miri.sh abort_
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=false
if [[ ${1:-} == --quick ]]; then
    quick=true
    shift
fi

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup component add miri rust-src --toolchain nightly

start=$(date +%s)
MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-ignore-leaks${MIRIFLAGS:+ $MIRIFLAGS}" \
    cargo +nightly miri test -p weft-scheduler --lib "$@"
if ! $quick; then
    MIRIFLAGS="-Zmiri-tree-borrows${MIRIFLAGS:+ $MIRIFLAGS}" \
        cargo +nightly miri test -p weft-reactor --lib time::wheel
    # -Zmiri-ignore-leaks: as for the scheduler, the runtime's threads may
    # still be exiting when the test's main thread returns.
    MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-ignore-leaks${MIRIFLAGS:+ $MIRIFLAGS}" \
        cargo +nightly miri test -p weft-tests --test join_set
fi
echo "ci/miri.sh: passed in $(($(date +%s) - start))s"
