#!/usr/bin/env bash
# The whole benchmark suite in one command (see BENCHMARKS.md):
#   1. builds auth-service, todo-service and the bench tools in release;
#   2. runs the criterion micro benchmarks of the token code (token/benches/token.rs);
#   3. runs the load suite (bench/src/bin/load.rs) against the real binaries on
#      127.0.0.1 only, and prints one Markdown table, also saved to
#      target/bench-results.md;
#   4. runs the h2load rows (bench/h2load.sh: the server's own per-call cost beside the
#      floor and the tutorial's app), appended to the same file. Skipped, and said so,
#      when h2load is not installed (apt-get install nghttp2-client).
#
# Options after the command go to the load tool (`target/release/load --help`), e.g.
#   bench/run.sh --runs 5 --secs 3          longer, steadier
#   bench/run.sh --only floor,login         some sections
#   bench/run.sh --postgres-url none        without PostgreSQL
# QUICK=1 bench/run.sh: a smoke test (one short run per cell, 20k-row table, short criterion).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
target=${CARGO_TARGET_DIR:-target}

# --workspace: building a subset re-resolves features and rebuilds dependencies.
cargo build --release --workspace --bins

# PostgreSQL, as in .ci/run: started if this machine has a cluster that is down.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432 \
  && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi

if [ "${QUICK:-}" = 1 ]; then
  crit=(--warm-up-time 0.3 --measurement-time 1)
  quick=(--runs 1 --secs 1 --warmup 0.3 --big-rows 20000)
else
  crit=(--warm-up-time 1 --measurement-time 3)
  quick=()
fi

echo "micro benchmarks (criterion; log in $target/bench-criterion.log)..." >&2
cargo bench --workspace --bench token -- "${crit[@]}" >"$target/bench-criterion.log" 2>&1 \
  || { tail -30 "$target/bench-criterion.log" >&2; exit 1; }

echo "load benchmarks..." >&2
"$target/release/load" --criterion-dir "$target/criterion" "${quick[@]}" "$@" \
  | tee "$target/bench-results.md"

if command -v h2load >/dev/null; then
  echo "h2load rows..." >&2
  if [ "${QUICK:-}" = 1 ]; then h2=(--secs 1 --rounds 1); else h2=(); fi
  bench/h2load.sh "${h2[@]}" | tee -a "$target/bench-results.md"
else
  echo "Skipped: the h2load rows (h2load is not installed: apt-get install nghttp2-client)." \
    | tee -a "$target/bench-results.md"
fi

echo "whole suite, build included: $(( $(date +%s) - start )) s" >&2
