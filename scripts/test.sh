#!/usr/bin/env bash
# Installs what is missing, builds everything (libraries, moesim, tests, benchmarks), runs the
# whole test suite with CTest, and checks the sources' layout (scripts/format.sh --check) and
# size (scripts/check-size.sh). Pass a preset name (debug, asan) to use another build.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
preset="${1:-release}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)"
./scripts/format.sh --check
./scripts/check-size.sh "build/$preset"
