#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages), builds moesim (release preset) and runs the
# quickstart scenario. Safe to run again: installed packages are skipped, the build is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target moesim
./build/release/moesim run scenarios/quickstart.yaml "$@"
