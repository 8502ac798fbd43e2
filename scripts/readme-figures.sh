#!/usr/bin/env bash
# Regenerates the figures README.md quotes (quickstart table, predictor errors, routing and
# placement figures, what-if answers) from full-length runs, and records what the test suite checks
# (tests/readme/figures.json). About 12 minutes on 2 cores; pass figure names to redo only those:
#   scripts/readme-figures.sh [quickstart|predictors|routing|placement|whatif]...
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target moesim >/dev/null
exec python3 scripts/readme_figures.py update build/release/moesim "$@"
