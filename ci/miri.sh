#!/usr/bin/env bash
# weft-scheduler's unit tests (task harness, queues, wakers, blocking pool)
# and weft-reactor's timer-wheel tests (the rest of the reactor calls
# epoll, which Miri cannot run) under Miri, which checks every unsafe access at run time: use after free,
# out-of-bounds and misaligned accesses, data races, aliasing violations and
# invalid values. Nightly only.
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
# How long it takes: about 15 s for the scheduler's tests once built and
# 35 s for the wheel's, about a minute
# after a change to the crate; the first run on a machine also builds Miri's
# sysroot (a few minutes). Miri interprets every instruction, so the tests
# shrink their task counts under cfg(miri).
#
# It builds into target/miri, so it does not disturb the normal build:
# cargo-miri appends `miri` to the target dir by itself (passing
# `--target-dir target/miri` would end up in target/miri/miri).
# Any arguments go to cargo test, e.g. a test name filter:
#   bash ci/miri.sh abort_
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rustup component add miri rust-src --toolchain nightly

start=$(date +%s)
MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-ignore-leaks${MIRIFLAGS:+ $MIRIFLAGS}" \
    cargo +nightly miri test -p weft-scheduler --lib "$@"
MIRIFLAGS="-Zmiri-tree-borrows${MIRIFLAGS:+ $MIRIFLAGS}" \
    cargo +nightly miri test -p weft-reactor --lib time::wheel
echo "ci/miri.sh: passed in $(($(date +%s) - start))s"
