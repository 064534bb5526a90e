#!/usr/bin/env bash
# Installs the Debian 12 packages shopd needs to build, test and benchmark.
# Idempotent: packages already installed are skipped, and `apt-get update` runs
# once, only when something is missing.
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev libargon2-dev libspdlog-dev libcli11-dev libgtest-dev libpq-dev
  libhiredis-dev)
# clang 14 + its runtimes (ASan/UBSan, libFuzzer) + llvm-symbolizer: the sanitizer and fuzz build.
# redis-server: the Redis backends' tests start their own; nginx: scripts/cluster.sh and its test.
TEST_PKGS=(python3 curl prometheus postgresql-15 redis-server nginx util-linux procps clang-14 libclang-rt-14-dev llvm-14)
BENCH_PKGS=(wrk)

want=("${BUILD_PKGS[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${TEST_PKGS[@]}") ;;
  bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
