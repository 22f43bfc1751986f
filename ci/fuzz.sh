#!/usr/bin/env bash
# Fuzzes, with cargo-fuzz and libFuzzer, the two places where weft takes input
# from outside, each against what its module documents:
#   wheel        the reactor's timer wheel (crates/weft-reactor/src/time/
#                wheel.rs) run by sequences of insert / reset / remove /
#                advance / next_expiration (and advances whose callback
#                panics) and compared with a BTreeSet model: nothing fires
#                early, every due timer fires once and in order, removed
#                timers never fire, next_expiration is never late, len and
#                is_fired match.
#   http_parser  the hello-world servers' HTTP/1.1 core (examples/http/mod.rs)
#                fed arbitrary bytes, whole and cut into reads the way
#                hello-http's read loop does: no panic, consumed within the
#                input, waits only below MAX_HEAD, well-formed responses that
#                fit their requests, the same answers however the stream is cut.
# The targets are in fuzz/fuzz_targets/ and say exactly what they assert.
# Nightly only (libFuzzer's instrumentation). Installs what it lacks: the
# nightly toolchain, and cargo-fuzz (`cargo install`, a few minutes, once).
#
# Flags, each for a reason:
#   -a (--debug-assertions)   keep debug_assert! and integer overflow checks:
#                             the wheel's own consistency asserts are debug
#                             asserts, and its tick arithmetic must not wrap.
#   -s none                   no sanitizer: both modules are safe Rust (the
#                             only unsafe in http/mod.rs is a test allocator
#                             behind cfg(test)), so AddressSanitizer would add
#                             a 2-3x slowdown and find nothing a panic misses.
#   -max_total_time           the time budget a target, FUZZ_SECONDS.
#   -max_len=17000            http_parser only: past READ_BUF (16 KiB), so a
#                             stream can fill the server's buffer and a head
#                             can pass MAX_HEAD (8 KiB). The script also puts
#                             heads of exactly MAX_HEAD and one byte more in
#                             the corpus, so the fuzzer starts at that edge.
#   -timeout=10               an input that takes 10 s is a hang: a bug.
#   -print_final_stats=1      the run count for the summary.
#
# Corpus and findings: fuzz/corpus/<target>/ grows from run to run (it is
# git-ignored; committed seeds in fuzz/seeds/<target>/ and past crashes in
# fuzz/regressions/<target>/ are copied in first, so every run replays them).
# A crash leaves its input in fuzz/artifacts/<target>/; reproduce it with
#   cargo +nightly fuzz run -a -s none <target> fuzz/artifacts/<target>/crash-...
# and, once understood, commit it to fuzz/regressions/<target>/. Full logs
# are in fuzz/artifacts/logs/<target>.log.
#
# How long it takes: FUZZ_SECONDS (default 60) a target plus the build, about
# 2.5 minutes the first time on 2 cores (libFuzzer's C++ and the targets),
# seconds after that. Prints a table: target, runs, runs/s, corpus files,
# seconds, crash artifact, result; exits non-zero if a target crashed.
#
# Usage:
#   bash ci/fuzz.sh                          # every target, 60 s each
#   FUZZ_SECONDS=600 bash ci/fuzz.sh         # a longer run
#   bash ci/fuzz.sh http_parser              # one target (or several, by name)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${FUZZ_SECONDS:-60}
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(wheel http_parser)
fi
# Kept identical between build and run, or `cargo fuzz run` rebuilds.
build_flags=(-a -s none)

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --help >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

known=$(cargo +nightly fuzz list)
for target in "${targets[@]}"; do
    if ! grep -qx "$target" <<<"$known"; then
        echo "ci/fuzz.sh: no fuzz target named $target; there are:" $known >&2
        exit 2
    fi
done

start=$(date +%s)
mkdir -p fuzz/artifacts/logs
echo "ci/fuzz.sh: building the fuzz targets"
if ! cargo +nightly fuzz build "${build_flags[@]}" >fuzz/artifacts/logs/build.log 2>&1; then
    tail -n 40 fuzz/artifacts/logs/build.log >&2
    echo "ci/fuzz.sh: build failed" >&2
    exit 1
fi

# A request head of exactly `len` bytes: the largest accepted is MAX_HEAD
# (8192), one more gets 431.
head_of() {
    local len=$1 prefix='GET / HTTP/1.1\r\nX-Pad: ' # 23 bytes
    printf '%b' "$prefix"
    head -c $((len - 23 - 4)) /dev/zero | tr '\0' a
    printf '\r\n\r\n'
}

rows=()
failed=0
for target in "${targets[@]}"; do
    corpus=fuzz/corpus/$target
    artifacts=fuzz/artifacts/$target
    log=fuzz/artifacts/logs/$target.log
    mkdir -p "$corpus" "$artifacts"
    for dir in fuzz/seeds/$target fuzz/regressions/$target; do
        if [[ -d $dir ]]; then
            cp -n "$dir"/* "$corpus"/ 2>/dev/null || true
        fi
    done
    extra=()
    if [[ $target == http_parser ]]; then
        head_of 8192 >"$corpus/head_of_max_size"
        head_of 8193 >"$corpus/head_past_max_size"
        extra=(-max_len=17000)
    fi

    echo "ci/fuzz.sh: fuzzing $target for ${seconds}s"
    t0=$(date +%s)
    status=0
    cargo +nightly fuzz run "${build_flags[@]}" "$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        "${extra[@]}" >"$log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - t0))

    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    runs=${runs:-?}
    rate=?
    if [[ $runs != "?" && $elapsed -gt 0 ]]; then
        rate=$((runs / elapsed))
    fi
    files=$(find "$corpus" -type f | wc -l)
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if [[ $status -eq 0 ]]; then
        result=ok
        crash=0
    else
        result=FAILED
        crash=${artifact:-"none written (exit $status), see $log"}
        failed=1
        echo "ci/fuzz.sh: $target failed; the end of $log:" >&2
        grep -v '^#[0-9]' "$log" | tail -n 40 >&2
    fi
    rows+=("$target|$runs|$rate|$files|$elapsed|$crash|$result")
done

echo
echo "ci/fuzz.sh: summary"
printf '%-12s %12s %8s %8s %8s  %-8s %s\n' target runs runs/s corpus seconds result crashes
for row in "${rows[@]}"; do
    IFS='|' read -r target runs rate files elapsed crash result <<<"$row"
    printf '%-12s %12s %8s %8s %8s  %-8s %s\n' \
        "$target" "$runs" "$rate" "$files" "$elapsed" "$result" "$crash"
done
echo "ci/fuzz.sh: $([[ $failed -eq 0 ]] && echo passed || echo FAILED) in $(($(date +%s) - start))s"
exit "$failed"
