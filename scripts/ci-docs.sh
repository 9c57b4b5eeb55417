#!/usr/bin/env bash
# The user guide and the config's JSON Schema, checked as a user meets them:
#  - mdBook builds the guide (`cargo install --locked`, as mdBook is not a
#    Debian package), and every link inside it leads to a page and anchor
#    that exist;
#  - Taplo, the engine of the "Even Better TOML" editor extension, checks
#    every bundled config and example against the committed schema, through
#    the repository's .taplo.toml as an editor would, and refuses a config
#    with a wrong key, type and kind (so the check can fail).
# That the committed reference pages and schema are what the code generates
# is a cargo test (experiments/src/reference.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
mdbook_version=0.5.4
taplo_cli_version=0.7.0

if ! mdbook --version 2>/dev/null | grep -q "v$mdbook_version"; then
  # Without the default `serve` feature (a web server and file watcher that
  # `mdbook build` does not use): half the compile time on 2 cores.
  cargo install --locked --quiet "mdbook@$mdbook_version" --no-default-features --features search
fi
mdbook build docs
python3 scripts/check_book.py target/book

taplo_dir=target/ci-taplo
if [ ! -x "$taplo_dir/node_modules/.bin/taplo" ]; then
  npm install --silent --no-audit --no-fund --prefix "$taplo_dir" "@taplo/cli@$taplo_cli_version"
fi
taplo="$taplo_dir/node_modules/.bin/taplo"
# Every bundled config and example, found through .taplo.toml's include.
RUST_LOG=warn "$taplo" lint
files=$(RUST_LOG=info "$taplo" lint 2>&1 | sed -n 's/.*found files total=\([0-9]*\).*/\1/p')
expected=$(ls experiments/configs/*.toml examples/*.toml | wc -l)
if [ "$files" != "$expected" ]; then
  echo "ci-docs: taplo checked $files files, expected $expected" >&2
  exit 1
fi

bad="$(mktemp -d)"
trap 'rm -rf "$bad"' EXIT
cat > "$bad/bad.toml" <<'TOML'
customrs = 5
[workload]
duration = "1 hour"
[[patterns]]
kind = "event_basd"
TOML
if RUST_LOG=error "$taplo" lint --no-auto-config --schema "file://$PWD/docs/src/reference/ecsim-config.schema.json" "$bad/bad.toml" \
  > "$bad/out.txt" 2>&1; then
  echo "ci-docs: the schema accepted a config with three mistakes" >&2
  exit 1
fi
for mistake in "'customrs' was unexpected" '"1 hour" does not match' 'event_basd'; do
  grep -q "$mistake" "$bad/out.txt" || {
    echo "ci-docs: the schema did not report: $mistake" >&2
    cat "$bad/out.txt" >&2
    exit 1
  }
done
echo "ci-docs: guide built, links whole; $files configs match the schema"
