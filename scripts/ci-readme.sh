#!/usr/bin/env bash
# Runs the README's "Using it" block exactly as written, the way a new user
# would on a fresh clone: `cargo install --path experiments` (into a
# temporary root, put first on PATH), then every command. Each must exit 0;
# `ecsim explore` may exit 1, its documented answer for a broken promise.
# Afterwards the committed results must be byte-identical (the bundled
# experiments the block reruns rewrite them), and nothing may be left in
# the working tree but runs/ (removed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d /tmp/ecsim-readme.XXXXXX)
trap 'rm -rf "$root" /tmp/x8 runs' EXIT
export CARGO_INSTALL_ROOT="$root" CARGO_TARGET_DIR="$PWD/target" PATH="$root/bin:$PATH"
# The release profile's thin LTO and single codegen unit take minutes to
# build on a 2-core CI machine; without them the binary is built in a
# fraction of that. Its outputs must not change (no fast-math anywhere),
# which the byte-identity check below then also confirms.
export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
block=$(awk '/^## Using it/{on=1} on&&/^```sh/{inblock=1; next} inblock&&/^```/{exit} inblock{print}' README.md)
[ -n "$block" ] || { echo "ci-readme: no sh block under '## Using it' in README.md" >&2; exit 1; }
while IFS= read -r line; do
  cmd=${line%%#*}
  [ -n "${cmd// /}" ] || continue
  echo "+ $cmd" >&2
  start=$(date +%s)
  set +e
  bash -c "$cmd" >/dev/null 2>"$root/stderr"
  code=$?
  set -e
  if [ "$code" -ne 0 ] && ! { [[ $cmd == ecsim\ explore* ]] && [ "$code" -eq 1 ]; }; then
    echo "ci-readme: '$cmd' exited $code:" >&2
    cat "$root/stderr" >&2
    exit 1
  fi
  echo "  exit $code, $(( $(date +%s) - start )) s" >&2
done <<< "$block"
if [ -n "$(git status --porcelain -- results)" ]; then
  echo "ci-readme: the README's commands changed committed results:" >&2
  git status --porcelain -- results >&2
  exit 1
fi
echo "ci-readme: every command of the README's block ran; results unchanged" >&2
