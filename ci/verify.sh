#!/usr/bin/env bash
# Every reliability check of the project, one after another, each under a
# time bound, with a summary table at the end: what ran, how many (tests,
# models, fuzz runs, bytes), the result and how long it took. Run by hand
# before each release (CI runs a fast subset: see .ci/run); commit the
# summary it writes with --record to ci/VERIFY.md.
#
#   check       what                                               bound
#   test        ci/test.sh: unit, integration (short stress and     30 min
#               faults), trybuild and doc tests
#   stress      the stress tests' long mode, release build:          20 min
#               10M tasks, 1,000 runtimes, 10,000 connections,
#               wake storm, mixed blocking load
#   loom        ci/loom.sh at preemption bound 2, every group       40 min
#   miri        ci/miri.sh: scheduler, task harness, wheel,         60 min
#               JoinSet under Miri
#   tsan        ci/sanitizers.sh tsan                               60 min
#   asan        ci/sanitizers.sh asan                               45 min
#   lsan        ci/sanitizers.sh lsan                               45 min
#   valgrind    ci/valgrind.sh 200: an echo stress (200 connections, 15 min
#               16 MB checksummed) under memcheck
#   fuzz        ci/fuzz.sh: the wheel and HTTP-parser targets,      20 min
#               5 minutes each (FUZZ_SECONDS)
#
# How long it takes on 2 cores: about 2 hours from a cold machine (the
# sanitizers rebuild std, Miri builds its sysroot), well under one when the
# target dirs are warm. Every check runs even after one fails; the exit
# status is non-zero if any failed.
#
# Usage:
#   bash ci/verify.sh                    every check
#   bash ci/verify.sh loom miri          only these
#   bash ci/verify.sh --record [CHECKS]  run them, then write ci/VERIFY.md
#   bash ci/verify.sh --report           only write ci/VERIFY.md
# Each check keeps its full output in target/verify/CHECK.log and its
# summary row (with the commit it ran at) in target/verify/CHECK.row.
# ci/VERIFY.md gets the rows of every check that has one, and the figures
# each check printed, so checks may be run one at a time and recorded
# together; each row names its commit.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi

record=false
run=true
case ${1:-} in
    --record) record=true; shift ;;
    --report) record=true; run=false; shift ;;
esac

all_checks=(test stress loom miri tsan asan lsan valgrind fuzz)
checks=("$@")
if [[ ${#checks[@]} -eq 0 ]]; then
    checks=("${all_checks[@]}")
fi

# bound CHECK: the time limit of a check, in seconds.
bound() {
    case $1 in
        test) echo 1800 ;;
        stress) echo 1200 ;;
        loom) echo 2400 ;;
        miri) echo 3600 ;;
        tsan) echo 3600 ;;
        asan | lsan) echo 2700 ;;
        valgrind) echo 900 ;;
        fuzz) echo 1200 ;;
        *) return 1 ;;
    esac
}

# run_check CHECK: the command of a check.
run_check() {
    case $1 in
        test) bash ci/test.sh ;;
        stress)
            cargo test --release -p weft-tests --test stress -- \
                --ignored --test-threads=1 --nocapture
            ;;
        loom) LOOM_MAX_PREEMPTIONS=2 bash ci/loom.sh ;;
        miri) bash ci/miri.sh ;;
        tsan | asan | lsan) bash ci/sanitizers.sh "$1" ;;
        valgrind) bash ci/valgrind.sh 200 ;;
        fuzz) FUZZ_SECONDS=${FUZZ_SECONDS:-300} bash ci/fuzz.sh ;;
    esac
}

# passed LOG: the tests (or models) the libtest runs in LOG passed.
passed() {
    grep -oE 'test result: ok\. [0-9]+ passed' "$1" | awk '{ n += $4 } END { print n + 0 }'
}

# count CHECK LOG: what a check counts, in words.
count() {
    local log=$2
    case $1 in
        test | stress | miri) echo "$(passed "$log") tests" ;;
        tsan | asan | lsan)
            sed -n '/^ci\/sanitizers.sh: summary/,$p' "$log" |
                awk -v s="$1" '$1 == s { print $2 " tests" }'
            ;;
        loom) echo "$(passed "$log") models" ;;
        valgrind)
            grep -oE 'bytes verified [0-9]+' "$log" | tail -1 | sed 's/.* \([0-9]*\)$/\1 bytes verified/'
            ;;
        fuzz)
            sed -n '/^ci\/fuzz.sh: summary/,$p' "$log" |
                awk '$2 ~ /^[0-9]+$/ { n += $2 } END { print n + 0 " runs" }'
            ;;
    esac
}

# details CHECK LOG: the figures a check printed, for ci/VERIFY.md.
details() {
    local log=$2
    case $1 in
        # libtest prints "test NAME ... " before the test's own output.
        stress) grep -oE 'stress: .*' "$log" ;;
        miri) grep -E '^(test result|ci/miri.sh)' "$log" ;;
        loom)
            grep -E '^loom: ' "$log" | sort
            sed -n '/^ci\/loom.sh: summary/,$p' "$log"
            ;;
        tsan | asan | lsan) sed -n '/^ci\/sanitizers.sh: summary/,$p' "$log" ;;
        valgrind) grep -E '^ci/valgrind.sh: bytes verified' "$log" ;;
        fuzz) sed -n '/^ci\/fuzz.sh: summary/,$p' "$log" ;;
        *) ;;
    esac
}

mkdir -p target/verify
failed=0
verify_start=$(date +%s)
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!ci/VERIFY.md' || echo '+changes')
$run || checks=()
for check in "${checks[@]}"; do
    if ! limit=$(bound "$check"); then
        echo "ci/verify.sh: no check named '$check' (checks: ${all_checks[*]})" >&2
        exit 2
    fi
    log=target/verify/$check.log
    echo
    echo "==> [$check] (bound ${limit}s, output in $log)"
    start=$(date +%s)
    # A function cannot run under `timeout` directly: export it to a child bash.
    export -f run_check
    timeout --kill-after=30 "$limit" bash -c "run_check $check" 2>&1 | tee "$log" |
        grep --line-buffered -E '^(test result|ci/|stress:|==>|error)' || true
    rc=${PIPESTATUS[0]}
    secs=$(($(date +%s) - start))
    case $rc in
        0) result=ok ;;
        124 | 137) result="TIMED OUT after ${limit}s" failed=1 ;;
        *) result="FAILED (exit $rc)" failed=1 ;;
    esac
    echo "$check|$(count "$check" "$log")|$result|${secs}s|$commit|$(date -u '+%Y-%m-%d %H:%M')" \
        >"target/verify/$check.row"
    echo "==> [$check] $result in ${secs}s"
done
total=$(($(date +%s) - verify_start))

# table [CHECKS]: the rows of these checks (default: every check that has
# one) as a markdown table.
table() {
    local names=("$@") check
    if [[ ${#names[@]} -eq 0 ]]; then
        names=("${all_checks[@]}")
    fi
    echo "| check | count | result | time | commit | run at (UTC) |"
    echo "|---|---:|---|---:|---|---|"
    for check in "${names[@]}"; do
        if [[ -f target/verify/$check.row ]]; then
            local row
            row=$(<"target/verify/$check.row")
            echo "| ${row//|/ | } |"
        fi
    done
}

if $run; then
    echo
    echo "ci/verify.sh: summary (total ${total}s)"
    table "${checks[@]}"
fi

if $record; then
    out=ci/VERIFY.md
    {
        echo "# Latest full verification"
        echo
        echo "Written by \`bash ci/verify.sh --record\`; do not edit by hand."
        echo
        echo "- written: $(date -u '+%Y-%m-%d %H:%M UTC'), at commit $commit"
        echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ { print $2 }') GiB"
        echo "- toolchains: $(rustc --version), $(rustc +nightly --version 2>/dev/null || echo 'no nightly')"
        echo
        echo "Counts: tests and loom models are libtest's \"passed\" counts; fuzz runs"
        echo "are libFuzzer's executed inputs. A commit with \"+changes\" ran with"
        echo "uncommitted changes in the tree."
        echo
        table
        for check in "${all_checks[@]}"; do
            [[ -f target/verify/$check.log ]] || continue
            lines=$(details "$check" "target/verify/$check.log")
            if [[ -n $lines ]]; then
                echo
                echo "## $check"
                echo
                echo '```'
                echo "$lines"
                echo '```'
            fi
        done
    } >"$out"
    echo "ci/verify.sh: wrote $out"
fi
exit $failed
