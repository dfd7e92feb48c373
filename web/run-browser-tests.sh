#!/usr/bin/env bash
# Browser tests of the web client against the real services, from a fresh clone.
#
# Needs: Node 20+ with npm, and target/debug/all-in-one (`cargo build -p all-in-one`
# at the repository root; this script does not build Rust). It installs Debian's
# chromium when /usr/bin/chromium is missing (root or sudo), runs `npm ci`, builds
# the page, then runs tests/browser.test.mjs, which serves the page and starts
# all-in-one on random ports with a temporary data dir, drives headless Chromium
# through playwright-core and stops everything at the end. Artifacts (screenshots,
# service log, test output) go to web/artifacts/. Exits non-zero on any failure.
#
# Environment: ALL_IN_ONE_BIN (default ../target/debug/all-in-one),
# CHROMIUM_PATH (default /usr/bin/chromium), SKIP_NPM_CI=1 to reuse node_modules.
set -euo pipefail

web_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root_dir=$(cd "$web_dir/.." && pwd)
cd "$web_dir"

export ALL_IN_ONE_BIN=${ALL_IN_ONE_BIN:-$root_dir/target/debug/all-in-one}
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}

if [ ! -x "$ALL_IN_ONE_BIN" ]; then
  echo "run-browser-tests: $ALL_IN_ONE_BIN is missing; run 'cargo build -p all-in-one' first" >&2
  exit 1
fi

if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "run-browser-tests: installing Debian's chromium"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
"$CHROMIUM_PATH" --version 2>/dev/null || true

if [ "${SKIP_NPM_CI:-}" != 1 ]; then
  npm ci --no-audit --no-fund
fi
npm run build

mkdir -p artifacts
rm -f artifacts/*.png
set +e
node --test --test-reporter=spec tests/browser.test.mjs 2>&1 | tee artifacts/test-output.txt
status=${PIPESTATUS[0]}
set -e

passed=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' artifacts/test-output.txt | tail -1)
failed=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' artifacts/test-output.txt | tail -1)
if [ "$status" -eq 0 ] && [ ! -s artifacts/main-screen.png ]; then
  echo "run-browser-tests: artifacts/main-screen.png was not written" >&2
  status=1
fi
if [ -z "$passed" ] || [ "$passed" -eq 0 ]; then
  echo "run-browser-tests: no test passed" >&2
  status=1
fi
echo "browser-tests: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
