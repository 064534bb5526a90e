#!/usr/bin/env bash
# Runs every libFuzzer target of a sanitizer build for a bounded time and fails
# on any crash, leak, timeout or sanitizer report.
#   scripts/run_fuzzers.sh [BUILD_DIR] [SECONDS]     (defaults: build-asan 30)
# Each target starts from its committed seed corpus (fuzz/corpus/<name>/, read
# only) and writes what it discovers to a scratch copy, so a run never changes
# the repository. FUZZ_JOBS targets run at a time (default: the core count).
# Prints one line per target (executions, exec/s) and a summary line last; on
# a failure, the tail of that target's log and the reproducing input.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-asan}
SECONDS_EACH=${2:-30}
JOBS=${FUZZ_JOBS:-$(nproc)}
SCRATCH=$(mktemp -d /tmp/shopd-fuzz.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

targets=()
for bin in "$BUILD_DIR"/fuzz/fuzz_*; do
  [ -x "$bin" ] && targets+=("$(basename "$bin" | sed 's/^fuzz_//')")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets in $BUILD_DIR/fuzz (build them with: make fuzz)" >&2
  exit 1
fi

run_one() {
  local name=$1 dir="$SCRATCH/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  local dict=()
  [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
  "$BUILD_DIR/fuzz/fuzz_$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${dict[@]}" \
    "$dir/corpus" "fuzz/corpus/$name" >"$dir/log" 2>&1
  echo $? >"$dir/rc"
}
export -f run_one
export BUILD_DIR SECONDS_EACH SCRATCH
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

failed=0
for name in "${targets[@]}"; do
  dir="$SCRATCH/$name"
  rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
  if [ "$rc" = 0 ]; then
    printf 'fuzz %-12s ok    %10s executions in %ss (%s exec/s)\n' "$name" "${runs:-?}" "$SECONDS_EACH" "${rate:-?}"
  else
    failed=$((failed + 1))
    printf 'fuzz %-12s FAIL  exit %s after %s executions\n' "$name" "$rc" "${runs:-?}"
    grep -a -v '^#\|^INFO:\|^MS:' "$dir/log" | tail -40
    for a in "$dir"/artifacts/*; do
      [ -f "$a" ] || continue
      keep="/tmp/shopd-fuzz-$name-$(basename "$a")"
      cp "$a" "$keep"
      echo "  reproduce: $BUILD_DIR/fuzz/fuzz_$name $keep"
    done
  fi
done
if [ "$failed" -gt 0 ]; then
  echo "fuzz: $failed of ${#targets[@]} targets FAILED"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets passed, ${SECONDS_EACH}s each"
