#!/usr/bin/env bash
# Regenerates auth-service/data/common-passwords.txt: the 10,000 most common passwords,
# in rank order, from the npm package @zxcvbn-ts/language-common (MIT; the zxcvbn-ts
# project's list, drawn from leaked-password corpora). Needs npm and node.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-4.1.3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@zxcvbn-ts/language-common@$version" >/dev/null && tar xzf ./*.tgz)
node -e 'const d=require(process.argv[1]); process.stdout.write(d.slice(0,10000).join("\n")+"\n")' \
  "$tmp/package/src/passwords.json" > auth-service/data/common-passwords.txt
wc -l auth-service/data/common-passwords.txt
