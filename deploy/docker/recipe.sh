#!/bin/sh
# Writes the dependency "recipe" of the Cargo workspace in the current directory to DIR:
# the workspace manifest, Cargo.lock, every member's Cargo.toml, and a stub for every
# build target cargo knows (lib, bin, build script, test, bench, example) at its real
# path. Building the recipe compiles every dependency and none of the project's own code,
# so the Dockerfile caches that layer until a manifest or Cargo.lock changes: cargo-chef's
# idea in a few lines of sh, with nothing to install (the rust image has no jq or python).
#
# Usage (from the workspace root): sh deploy/docker/recipe.sh /recipe
set -eu

out=${1:?usage: recipe.sh OUT_DIR}
root=$(pwd)
mkdir -p "$out"

cp Cargo.toml Cargo.lock "$out/"
for f in rust-toolchain rust-toolchain.toml .cargo/config.toml .cargo/config; do
  if [ -f "$f" ]; then
    mkdir -p "$out/$(dirname "$f")"
    cp "$f" "$out/$f"
  fi
done

# No dependency resolution here (--no-deps): only the manifests are read.
meta=$(cargo metadata --no-deps --format-version 1 --offline)

members=$(printf '%s' "$meta" | grep -o '"manifest_path":"[^"]*"' | cut -d'"' -f4)
[ -n "$members" ] || { echo "recipe.sh: cargo metadata listed no members" >&2; exit 1; }
for manifest in $members; do
  rel=${manifest#"$root"/}
  mkdir -p "$out/$(dirname "$rel")"
  cp "$rel" "$out/$rel"
done

# Each target object starts with "kind", then "crate_types", "name", "src_path".
targets=$(printf '%s' "$meta" \
  | grep -o '{"kind":\["[a-z-]*"\][^{}]*"src_path":"[^"]*"' \
  | sed 's/^{"kind":\["\([a-z-]*\)"\].*"src_path":"\([^"]*\)"$/\1 \2/')
[ -n "$targets" ] || { echo "recipe.sh: cargo metadata listed no targets" >&2; exit 1; }
printf '%s\n' "$targets" | while read -r kind path; do
  rel=${path#"$root"/}
  case "$rel" in
    /*) echo "recipe.sh: target outside the workspace: $path" >&2; exit 1 ;;
  esac
  mkdir -p "$out/$(dirname "$rel")"
  case "$kind" in
    lib | rlib | dylib | cdylib | staticlib | proc-macro) : >"$out/$rel" ;;
    *) echo 'fn main() {}' >"$out/$rel" ;;
  esac
done
