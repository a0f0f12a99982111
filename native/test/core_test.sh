#!/usr/bin/env bash
# Builds and runs core_test.cc (float kernels, driver, pool, attention; no Node needed):
#   ./core_test.sh          host compiler (g++)
#   ./core_test.sh clang    clang++ (checks the clang target pragmas)
#   ./core_test.sh aarch64  aarch64-linux-gnu-g++ -static, run under qemu-aarch64 (NEON)
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p build
SRC=(core_test.cc $(ls ../src/*.cc | grep -v addon.cc))
FLAGS=(-O3 -std=c++17 -Wall -Wextra -ffp-contract=off -I../src -pthread)
case "${1:-host}" in
  host) g++ "${FLAGS[@]}" "${SRC[@]}" -o build/core_test && ./build/core_test ;;
  clang) clang++ "${FLAGS[@]}" "${SRC[@]}" -o build/core_test-clang && ./build/core_test-clang ;;
  aarch64) aarch64-linux-gnu-g++ -static "${FLAGS[@]}" "${SRC[@]}" -o build/core_test-aarch64 && qemu-aarch64 -cpu max ./build/core_test-aarch64 ;;
  *) echo "usage: $0 [host|clang|aarch64]" >&2; exit 2 ;;
esac
