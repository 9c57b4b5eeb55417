#!/usr/bin/env bash
# The statistical tests against theory, with their fixed seed list and every
# row they check (Bonferroni-corrected intervals and the wrong model each
# interval must exclude). Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -n "^const SEEDS" patterns/tests/validation.rs
cargo test --quiet -p patterns --test validation -- --nocapture --test-threads 2
