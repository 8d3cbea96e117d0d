#!/usr/bin/env bash
# Runs every fuzz target in BUILD_DIR/bin for SECONDS each, seeded with
# valid inputs each target writes from its own in-process platform. Fails on any crash.
set -euo pipefail
BUILD=${1:?build dir}
SECONDS_EACH=${2:-20}
for t in fuzz_quote fuzz_certificate fuzz_manifest fuzz_file_format fuzz_audit_log; do
  corpus=$(mktemp -d)
  echo "fuzz: $t for ${SECONDS_EACH}s"
  CLOISTER_FUZZ_SEED_DIR="$corpus" "$BUILD/bin/$t" -max_total_time="$SECONDS_EACH" -max_len=16384 -rss_limit_mb=2048 \
      -print_final_stats=1 "$corpus" 2>&1 | tail -4
  rm -rf "$corpus"
done
