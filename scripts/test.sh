#!/usr/bin/env bash
# Builds everything (release preset: libraries, moesim, tests, benchmarks) and runs the whole
# test suite with CTest. Pass a preset name (debug, asan) to use another build.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
jobs="$(nproc)"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs"
