#!/usr/bin/env bash
# The test command README.md shows: every test in the workspace.
#
# What it checks: `cargo test --workspace` builds and runs, for every package,
# the unit tests, the integration tests in tests/ (package weft-tests: API
# behaviour on 1 and several workers, shutdown, drop counts, 1,000,000 trivial
# tasks, wakes from foreign threads), the trybuild cases for macro misuse
# (also in weft-tests, compared against their checked-in .stderr files), the
# examples and benches as build checks, and the doctests of every public item.
# `--all-targets` is deliberately not used: it would skip the doctests.
#
# How long it takes: about 3 minutes from a clean target dir on 2 cores
# (mostly compiling), under a minute when only the workspace crates changed
# (the trybuild cases and the doctests are most of that minute).
#
# Usage: bash ci/test.sh [extra cargo test arguments, e.g. -p weft-scheduler]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$(date +%s)
cargo test --workspace "$@"
echo "ci/test.sh: passed in $(($(date +%s) - start))s"
