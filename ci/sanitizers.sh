#!/usr/bin/env bash
# The integration tests (package weft-tests) and weft-scheduler's and
# weft-reactor's unit tests under the compiler's sanitizers. Nightly only.
#
# What each one checks, at run time, in weft, its dependencies and std
# (`-Zbuild-std` rebuilds std with the same instrumentation, so a race or an
# overflow that goes through std's code is seen too, and std's own
# primitives are understood instead of reported):
#   tsan  ThreadSanitizer: data races (two threads touching the same memory,
#         one of them writing, with no happens-before edge between them),
#         and lock-order inversions.
#   asan  AddressSanitizer: use after free, double free, heap/stack/global
#         buffer overflows, use after return of scoped stack memory.
#   lsan  LeakSanitizer alone: memory no live pointer reaches when the test
#         process exits (a leaked task, waker or registration).
# Each builds into its own target dir (target/tsan, target/asan,
# target/lsan): RUSTFLAGS applies to every crate, so sharing a dir would
# rebuild everything at each switch and throw away the normal build.
#
# Options, each for a reason:
#   ASAN_OPTIONS=detect_leaks=0 for asan: ASan also runs LeakSanitizer at
#       exit; leaks are the lsan run's job, so each report shows up once, in
#       the run named for it. Nothing else is turned off.
#   TSAN_OPTIONS for tsan:
#     second_deadlock_stack=1  a lock-order report shows where both locks
#       were taken, not just one. It hides nothing.
#     suppressions=target/tsan/suppressions.txt (written below), two lines,
#       for crossbeam-deque's own slot accesses and nothing else:
#         race:crossbeam_deque::deque::Buffer*::read
#         race:crossbeam_deque::deque::Buffer*::write
#       A stealer reads the slot at the queue's front *before* it claims it
#       with a CAS on `front`; if the CAS fails, the copy is forgotten and
#       the steal retried. Meanwhile the owner may have wrapped around and
#       written that slot: TSan sees a racing read_volatile/write_volatile.
#       crossbeam-deque says so on Buffer::read/write ("technically speaking
#       a data race ... as a hack, we use a volatile write instead") and its
#       own TSan CI suppresses the same race (crossbeam ci/tsan:
#       `race:crossbeam_deque*push`, `race:crossbeam_deque*steal`). Seen
#       here in net_tcp's five_hundred_connections_each_echo_a_hundred_messages
#       (owner: Worker::push from weft's schedule_local; stealer:
#       steal_batch_with_limit_and_pop from weft's steal_from). The patterns
#       name only the two buffer accessors, which call no weft code, so a
#       race on any of weft's own memory is still reported.
#       crossbeam-deque's build script already swaps its fences for
#       release stores under TSan (which does not model fences), so no
#       other report comes from it. print_suppressions=1 lists what was
#       suppressed at the end of each test binary's output. In 4 runs of
#       that test without the file, TSan reported this pair twice and
#       nothing else; with it, 1 to 54 matches a run.
#   RUST_BACKTRACE=0 (SANITIZER_RUST_BACKTRACE overrides): many tests panic
#       on purpose, and symbolising each backtrace in an instrumented debug
#       binary takes long enough to break timing-bound tests: with
#       RUST_BACKTRACE=1, observability's
#       a_panicking_stall_hook_leaves_the_runtime_running failed 5 of 5
#       under tsan (the watchdog was still printing the hook's panic when
#       the second 300 ms stall came and went), and passed 3 of 3 with 0.
#       Sanitizer reports print their own stacks either way.
#   Any ASAN_OPTIONS / TSAN_OPTIONS / LSAN_OPTIONS in the environment are
#   added after ours.
#
# Left out, and why:
#   - tests/tests/macros_ui.rs: trybuild compiles the UI cases with rustc and
#     compares the compiler's messages with the .stderr files: no weft code
#     runs, so there is nothing for a sanitizer to check.
#   - doctests: the brief of this script is the tests; the doctests are
#     API examples (about 130 in weft, 13 in the scheduler, 7 in the
#     reactor), each its own binary to build per sanitizer, and cargo would
#     instrument them only through RUSTDOCFLAGS. They do build and pass this
#     way (`-p weft-reactor --doc` under lsan: 7 passed, 7 s), so a doctest
#     mode can be added if they grow code paths the tests do not cover.
#   - the `long_` stress tests stay #[ignore]d, as in the normal run, all
#     but one: without a filter, each sanitizer also runs
#     long_loopback_connections_echo, 10,000 loopback connections held at
#     once (the reactor's registration table at its largest). Measured here:
#     asan 11.6 s and 180 MB peak RSS, tsan 19 s and 205 MB: it fits. The
#     others (10,000,000 tasks, 2,000,000 wake-ups, ...) would take far
#     longer than their bounds under a sanitizer; their short versions run.
#
# How long it takes on 2 cores (measured on a machine shared with other
# builds, so expect less on a quiet one):
#   first run, which also builds std for each sanitizer: tsan 6 to 8 min,
#     asan about 7 min, lsan about 2 min to build (tsan and asan were
#     measured building side by side); roughly 20 min for all three.
#   after a change to weft: 12 s (one crate touched) to 70 s (all of
#     weft's crates) to rebuild each; the tests take tsan 80 to 115 s, asan
#     40 to 50 s, lsan about 30 s (the 10,000-connection echo is 10 to 20 s
#     of each): 3.5 to 6 min for all three.
#
# Usage:
#   bash ci/sanitizers.sh                 all three, one after the other
#   bash ci/sanitizers.sh tsan            one of tsan, asan, lsan (or all)
#   bash ci/sanitizers.sh tsan wake_      then a test name filter, and any
#   bash ci/sanitizers.sh all -- --nocapture   further test-harness args
# The step limits (seconds) can be raised for a slow machine:
# SANITIZER_BUILD_TIMEOUT (default 3600, per build), SANITIZER_TEST_TIMEOUT
# (default 1800, per test run). Each run's output is kept in
# target/<sanitizer>/sanitizers.log. It exits non-zero if any test fails,
# any sanitizer reports anything, or any step runs out of time, and prints a
# table of the runs at the end either way.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target=x86_64-unknown-linux-gnu
build_limit=${SANITIZER_BUILD_TIMEOUT:-3600}
test_limit=${SANITIZER_TEST_TIMEOUT:-1800}

sanitizers=(tsan asan lsan)
case "${1:-}" in
    all) shift ;;
    tsan | asan | lsan) sanitizers=("$1"); shift ;;
esac
if [[ ${1:-} == -- ]]; then
    shift
fi
harness_args=("$@")

# Every integration test file but the trybuild one.
integration=()
for file in tests/tests/*.rs; do
    name=$(basename "$file" .rs)
    [[ $name == macros_ui ]] && continue
    integration+=(--test "$name")
done

# Installs nightly only where it is missing: `rustup toolchain install`
# would also update an installed one, under other jobs using it.
rustup run nightly rustc --version >/dev/null 2>&1 ||
    rustup toolchain install nightly --profile minimal
rustup component add rust-src --toolchain nightly

declare -A flag=([tsan]=thread [asan]=address [lsan]=leak)
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
tsan_suppressions=$PWD/target/tsan/suppressions.txt
export TSAN_OPTIONS="second_deadlock_stack=1:print_suppressions=1:suppressions=$tsan_suppressions${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export RUST_BACKTRACE=${SANITIZER_RUST_BACKTRACE:-0}
summary=()
failed=0

# Runs a command under `timeout`, appending its output to the log; echoes
# "ok", "timed out" or "failed".
step() {
    local limit=$1 log=$2 rc
    shift 2
    set +e
    timeout --kill-after=30 "$limit" "$@" 2>&1 | tee -a "$log" >&2
    rc=${PIPESTATUS[0]}
    set -e
    case $rc in
        0) echo ok ;;
        124 | 137) echo "timed out after ${limit}s" ;;
        *) echo failed ;;
    esac
}

run_one() {
    local san=$1 dir=target/$1 log=target/$1/sanitizers.log
    mkdir -p "$dir"
    : >"$log"
    local -a cargo=(cargo +nightly test -Zbuild-std --target "$target" --target-dir "$dir" --no-fail-fast)
    local -a suites=(
        "-p weft-tests --lib ${integration[*]}"
        "-p weft-scheduler -p weft-reactor --lib"
    )
    local status=ok build_s=0 test_s=0 start suite result
    if [[ $san == tsan ]]; then
        # See the header.
        printf '%s\n' 'race:crossbeam_deque::deque::Buffer*::read' \
            'race:crossbeam_deque::deque::Buffer*::write' >"$tsan_suppressions"
    fi
    export RUSTFLAGS="-Zsanitizer=${flag[$san]}"

    echo "ci/sanitizers.sh: $san: building (limit ${build_limit}s)"
    start=$(date +%s)
    for suite in "${suites[@]}"; do
        # shellcheck disable=SC2086 # suite is a list of cargo arguments
        result=$(step "$build_limit" "$log" "${cargo[@]}" $suite --no-run)
        [[ $result == ok ]] || status="build $result"
    done
    build_s=$(($(date +%s) - start))

    if [[ $status == ok ]]; then
        echo "ci/sanitizers.sh: $san: testing (limit ${test_limit}s per suite)"
        start=$(date +%s)
        for suite in "${suites[@]}"; do
            # shellcheck disable=SC2086
            result=$(step "$test_limit" "$log" "${cargo[@]}" $suite -- "${harness_args[@]}")
            [[ $result == ok ]] || status="tests $result"
        done
        # The full-size loopback stress, without a filter only (see header).
        if [[ ${#harness_args[@]} -eq 0 ]]; then
            result=$(step "$test_limit" "$log" "${cargo[@]}" -p weft-tests --test stress -- \
                --ignored --exact long_loopback_connections_echo --nocapture)
            [[ $result == ok ]] || status="tests $result"
        fi
        test_s=$(($(date +%s) - start))
    fi
    # A report in a child process (the stress tests re-run their own binary)
    # may not reach an exit status: look for report headers too.
    local reports
    reports=$(grep -c -E '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (Address|Leak)Sanitizer)' "$log" || true)
    if [[ $reports -gt 0 ]]; then
        if [[ $status == ok ]]; then status="$reports reports"; else status="$status, $reports reports"; fi
    fi
    local passed failed_tests
    # (`|| true`: grep finding nothing is not an error here.)
    passed=$({ grep -o -E '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" || true; } | awk '{s += $4} END {print s + 0}')
    failed_tests=$({ grep -o -E '[0-9]+ failed;' "$log" || true; } | awk '{s += $1} END {print s + 0}')
    if [[ $status == ok && $passed -eq 0 ]]; then
        status="no test ran (a filter that matches nothing?)"
    fi
    local suppressed
    suppressed=$({ grep -o -E '^ThreadSanitizer: Matched [0-9]+ suppressions' "$log" || true; } | awk '{s += $3} END {print s + 0}')
    summary+=("$(printf '%-9s %6s %6s %10s %8s %7s %7s  %s' "$san" "$passed" "$failed_tests" "$suppressed" "$((build_s + test_s))" "$build_s" "$test_s" "$status")")
    if [[ $status != ok ]]; then
        failed=1
        echo "ci/sanitizers.sh: $san: $status; the output is in $log" >&2
    fi
    unset RUSTFLAGS
}

for san in "${sanitizers[@]}"; do
    run_one "$san"
done

echo
echo "ci/sanitizers.sh: summary"
printf '%-9s %6s %6s %10s %8s %7s %7s  %s\n' sanitizer passed failed suppressed seconds build_s test_s result
printf '%s\n' "${summary[@]}"
exit $failed
