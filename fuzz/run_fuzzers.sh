#!/usr/bin/env bash
# Runs every fuzz target in BUILD_DIR/bin for SECONDS each (default 10),
# seeded with the valid inputs each target writes itself (fuzz_seed.h).
# Prints each target's final stats (exec/s among them); on a crash, leak or
# UBSan finding prints the report and fails (the crashing input is kept in
# the working directory as crash-*/leak-*, as libFuzzer writes it).
set -euo pipefail
BUILD=${1:?build dir}
SECONDS_EACH=${2:-10}
TARGETS=(fuzz_quote fuzz_certificate fuzz_manifest fuzz_file_format fuzz_audit_log
         fuzz_grants fuzz_token fuzz_api_key fuzz_policy fuzz_config fuzz_lua_framing
         fuzz_keyvault)
for t in "${TARGETS[@]}"; do
  corpus=$(mktemp -d)
  log=$(mktemp)
  echo "fuzz: $t for ${SECONDS_EACH}s"
  # stdin from /dev/null: nothing a target parses may wait on a terminal.
  if ! CLOISTER_FUZZ_SEED_DIR="$corpus" "$BUILD/bin/$t" -max_total_time="$SECONDS_EACH" \
       -max_len=16384 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" </dev/null >"$log" 2>&1; then
    tail -80 "$log"
    echo "fuzz: $t FAILED" >&2
    rm -rf "$corpus" "$log"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" |
    sed 's/^/  /'
  rm -rf "$corpus" "$log"
done
