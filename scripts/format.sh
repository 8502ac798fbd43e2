#!/usr/bin/env bash
# Formats every C++ and CUDA source with clang-format (.clang-format), or with --check lists the
# files that are not formatted and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cc' '*.h' '*.cu' '*.cuh')
if [[ "${1:-}" == --check ]]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf 'not formatted: %s\n' "${bad[@]}" >&2
    echo "run scripts/format.sh to format them" >&2
    exit 1
  fi
  exit 0
fi
clang-format -i "${files[@]}"
