#!/usr/bin/env bash
# Runs the README's grpcurl walk-through, exactly as written there, against a freshly
# started all-in-one pair, so the README cannot drift from the code.
# Needs: grpcurl (scripts/install-grpcurl.sh), jq, a built target/debug/all-in-one.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"

block=$(awk '/<!-- walkthrough:start -->/{on=1; next} /<!-- walkthrough:end -->/{on=0} on' README.md | sed '/^```/d')
[ -n "$block" ] || { echo "walkthrough: no block between the markers in README.md" >&2; exit 1; }

data=$(mktemp -d)
log="$data/all-in-one.log"
DATA_DIR="$data" target/debug/all-in-one >"$log" 2>&1 &
pid=$!
cleanup() { kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  if grpcurl -plaintext 127.0.0.1:50052 grpc.health.v1.Health/Check >/dev/null 2>&1 \
    && grpcurl -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check >/dev/null 2>&1; then
    break
  fi
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "walkthrough: all-in-one exited" >&2; exit 1; }
  sleep 0.2
done

out="$data/out.txt"
# The block finds the mail folder through DATA_DIR, as a reader with the default finds data/mail.
if ! DATA_DIR="$data" bash -euo pipefail -c "$block" >"$out" 2>&1; then
  cat "$out"; echo "--- all-in-one log"; cat "$log"
  echo "walkthrough: FAILED" >&2
  exit 1
fi
cat "$out"
# What the walk-through must have shown.
for expect in '"username": "alice"' '"title": "buy milk"' '"completed": true' '"current": true' '"kind": "SESSION_REVOKED"' '"email": "bob@example.com"' '"emailVerified": true'; do
  grep -qF "$expect" "$out" || { echo "walkthrough: output lacks $expect" >&2; exit 1; }
done
echo "walkthrough: 1 passed, 0 failed"
