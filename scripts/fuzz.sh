#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each; not part of `cargo test`.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]          # default: 60 s for every target
#   scripts/fuzz.sh --merge [SECONDS] [TARGET...]  # also keep new finds in fuzz/corpus
#
# Targets: token_verify (JWT verification and the `authorization: Bearer` header parser)
# and request_validation (the domain parsers of auth-service and todo-service).
#
# Each target starts from the corpus kept in the repo, fuzz/corpus/<target>/, which it
# only reads: what the fuzzer finds goes to a scratch corpus under fuzz/target/, so a run
# leaves the work tree clean. With --merge, the scratch finds that add coverage are then
# merged into fuzz/corpus/<target>/: the hand-made seed-* files are always kept, then
# inputs from the repo corpus and the new finds, chosen by fuzz/select_corpus.py for the
# most coverage edges, up to FUZZ_CORPUS_MAX files per target (default 90), so the committed
# corpus stays small (a plain `cargo fuzz cmin` keeps several hundred files here).
# Needs python3. Commit the result if it is worth it.
#
# Only a stable toolchain is needed: cargo-fuzz's nightly-only flags (-Zsanitizer,
# sancov passes) are allowed through RUSTC_BOOTSTRAP=1. cargo-fuzz is installed into
# ~/.cargo/bin when missing. FUZZ_SANITIZER (default: address; `none` builds and runs
# faster) is passed to `cargo fuzz --sanitizer`.
#
# Exits non-zero as soon as a target crashes (panic, failed assertion, sanitizer report,
# timeout or out-of-memory); libFuzzer's output names the input it saved under
# fuzz/artifacts/<target>/, and `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <that file>`
# replays it.
set -euo pipefail

cd "$(dirname "$0")/.."

merge=0
if [[ "${1:-}" == "--merge" ]]; then
    merge=1
    shift
fi
seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds == 0 )); then
    echo "usage: $0 [--merge] [SECONDS] [TARGET...]  (SECONDS: a positive integer)" >&2
    exit 2
fi
shift || true
targets=("$@")
if (( ${#targets[@]} == 0 )); then
    targets=(token_verify request_validation)
fi
sanitizer="${FUZZ_SANITIZER:-address}"
corpus_max="${FUZZ_CORPUS_MAX:-90}"

export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    scratch="fuzz/target/scratch-corpus/$target"
    mkdir -p "$corpus" "$scratch" "fuzz/artifacts/$target"
    echo "== $target: ${seconds}s (corpus $corpus, new inputs to $scratch)"
    # The first directory is where libFuzzer writes new inputs; the repo corpus is read.
    cargo fuzz run --sanitizer "$sanitizer" "$target" "$scratch" "$corpus" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 || {
        status=$?
        echo "!! $target failed (exit $status): see the crash report and fuzz/artifacts/$target/" >&2
        exit "$status"
    }

    if (( merge )); then
        echo "== $target: merging new finds into $corpus (at most $corpus_max files)"
        work="fuzz/target/merge/$target"
        rm -rf "$work"
        mkdir -p "$work/out"
        # libFuzzer records every edge each input reaches in the control file; the
        # selector keeps the seed-* files and the inputs that reach the most new edges.
        cargo fuzz run --sanitizer "$sanitizer" "$target" "$work/out" "$corpus" "$scratch" -- \
            -merge=1 -set_cover_merge=1 -use_counters=0 -merge_control_file="$work/control"
        python3 fuzz/select_corpus.py "$work/control" "$work/keep" "$corpus_max"
        find "$corpus" -maxdepth 1 -type f -delete
        find "$work/keep" -maxdepth 1 -type f -exec cp {} "$corpus/" \;
        echo "== $target: $(find "$corpus" -type f | wc -l) files, $(cat "$corpus"/* | wc -c) bytes"
    fi
done
echo "== no crashes"
