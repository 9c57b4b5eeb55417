#!/usr/bin/env bash
# The statistical tests with their fixed seed lists, run with every row they
# check printed: the validation against theory (Bonferroni-corrected
# intervals and the wrong model each must exclude), and the scenario and
# kernel tests with sampling tolerances. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
# `--workspace` with a test filter, never `-p`: the features then unify as
# in `cargo test --workspace`, so the binaries .ci/run just built are
# reused (with `-p`, cargo rebuilt sim-core and patterns: minutes on CI).
echo "== seed lists"
grep -n "^const SEEDS" patterns/tests/*.rs sim-core/tests/*.rs
echo "== validation against theory"
cargo test --quiet --workspace --test validation -- --nocapture --test-threads 2
echo "== statistical scenario and kernel tests"
cargo test --quiet --workspace --test scenarios -- --test-threads 2 \
  with_the_book_defaults consumer_failures a_failed_compensation the_billing_anomaly
cargo test --quiet --workspace --test kernel -- loss_rate_is_within_sampling_error
