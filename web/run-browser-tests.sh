#!/usr/bin/env bash
# Everything the web client is checked by, from a fresh clone: lint and format
# (Biome), type-check, unit tests (Vitest), build, the bundle budget (150 KB
# gzipped), then the browser tests (node's test runner driving headless Chromium
# through playwright-core against the real services). .ci/run calls this.
#
# Needs: Node 20.19+ with npm, and the service binaries: target/debug/all-in-one,
# auth-service and todo-service (`cargo build --workspace --bins` at the repository
# root; this script does not build Rust). It installs Debian's chromium when
# /usr/bin/chromium is missing (root or sudo) and runs `npm ci`. The browser tests
# serve dist/ and start the services on random ports with temporary data dirs, and
# stop everything at the end. Artifacts (service logs, test output) go to
# web/artifacts/. Every step runs even after one fails (except the browser tests
# without a build); the exit code is non-zero if any step failed.
#
# Environment: ALL_IN_ONE_BIN (default ../target/debug/all-in-one), AUTH_SERVICE_BIN
# and TODO_SERVICE_BIN (default: beside ALL_IN_ONE_BIN), CHROMIUM_PATH (default
# /usr/bin/chromium), SKIP_NPM_CI=1 to reuse node_modules.
set -uo pipefail

web_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root_dir=$(cd "$web_dir/.." && pwd)
cd "$web_dir"

export ALL_IN_ONE_BIN=${ALL_IN_ONE_BIN:-$root_dir/target/debug/all-in-one}
bin_dir=$(dirname "$ALL_IN_ONE_BIN")
export AUTH_SERVICE_BIN=${AUTH_SERVICE_BIN:-$bin_dir/auth-service}
export TODO_SERVICE_BIN=${TODO_SERVICE_BIN:-$bin_dir/todo-service}
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
export NO_COLOR=1 FORCE_COLOR=0

for bin in "$ALL_IN_ONE_BIN" "$AUTH_SERVICE_BIN" "$TODO_SERVICE_BIN"; do
  if [ ! -x "$bin" ]; then
    echo "run-browser-tests: $bin is missing; run 'cargo build --workspace --bins' first" >&2
    exit 1
  fi
done

if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "run-browser-tests: installing Debian's chromium"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
"$CHROMIUM_PATH" --version 2>/dev/null || true

mkdir -p artifacts
failed_steps=()
step() {
  local name=$1
  shift
  echo "== web: $name"
  if ! "$@"; then
    echo "run-browser-tests: $name FAILED" >&2
    failed_steps+=("$name")
    return 1
  fi
}

if [ "${SKIP_NPM_CI:-}" != 1 ]; then
  step "npm ci" npm ci --no-audit --no-fund || exit 1
fi
step "generate the client from ../proto" npm run --silent generate || exit 1
step "lint and format (biome ci)" npx biome ci --colors=off .
step "type-check" npm run --silent typecheck

unit_passed=0
unit_failed=0
if step "unit tests (vitest)" bash -c 'set -o pipefail; npx vitest run 2>&1 | tee artifacts/unit-output.txt'; then :; fi
if [ -f artifacts/unit-output.txt ]; then
  unit_passed=$(sed -n 's/^ *Tests .*[^0-9]\([0-9][0-9]*\) passed.*/\1/p' artifacts/unit-output.txt | tail -1)
  unit_failed=$(sed -n 's/^ *Tests *\([0-9][0-9]*\) failed.*/\1/p' artifacts/unit-output.txt | tail -1)
  unit_passed=${unit_passed:-0}
  unit_failed=${unit_failed:-0}
fi
if [ "$unit_passed" -eq 0 ]; then
  echo "run-browser-tests: no unit test passed" >&2
  failed_steps+=("unit tests ran")
fi

browser_passed=0
browser_failed=0
if step "build" npx vite build --logLevel warn; then
  step "bundle size (150 KB gzipped at most)" node scripts/bundle-size.mjs
  echo "== web: browser tests"
  node --test --test-reporter=spec --test-concurrency=1 tests/*.test.mjs 2>&1 | tee artifacts/test-output.txt
  status=${PIPESTATUS[0]}
  browser_passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' artifacts/test-output.txt | tail -1)
  browser_failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' artifacts/test-output.txt | tail -1)
  browser_passed=${browser_passed:-0}
  browser_failed=${browser_failed:-0}
  if [ "$status" -ne 0 ]; then failed_steps+=("browser tests"); fi
  if [ "$browser_passed" -eq 0 ]; then
    echo "run-browser-tests: no browser test passed" >&2
    failed_steps+=("browser tests ran")
  fi
fi

echo "unit-tests: ${unit_passed} passed, ${unit_failed} failed"
echo "browser-tests: ${browser_passed} passed, ${browser_failed} failed"
if [ ${#failed_steps[@]} -gt 0 ]; then
  printf 'run-browser-tests: failed: %s\n' "${failed_steps[*]}" >&2
fi
# The plain closing line CI reads: tests counted, and a failed step (lint, build,
# bundle size...) counted as a failure too, so the line never reads "0 failed"
# when the exit code does not.
other_failed=0
for s in "${failed_steps[@]}"; do
  case "$s" in "unit tests (vitest)" | "browser tests") ;; *) other_failed=$((other_failed + 1)) ;; esac
done
total_failed=$((unit_failed + browser_failed + other_failed))
if [ ${#failed_steps[@]} -gt 0 ] && [ "$total_failed" -eq 0 ]; then total_failed=1; fi
echo "web: $((unit_passed + browser_passed)) passed, ${total_failed} failed"
[ ${#failed_steps[@]} -eq 0 ]
