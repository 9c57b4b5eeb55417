#!/usr/bin/env bash
# Rewrites the guide's generated pages from the code: the config reference,
# the outputs reference and the config's JSON Schema. A test fails while the
# committed pages differ from what the code generates.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin ecsim
ecsim=target/debug/ecsim
out=docs/src/reference
"$ecsim" reference config > "$out/config.md"
"$ecsim" reference outputs > "$out/outputs.md"
"$ecsim" schema > "$out/ecsim-config.schema.json"
echo "regenerated $out/config.md, $out/outputs.md, $out/ecsim-config.schema.json"
