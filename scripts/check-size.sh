#!/usr/bin/env bash
# Small files with one purpose: no source file over 500 lines, no function over 80 (clang-tidy's
# readability-function-size, lines of the body). Needs a configured build for its compile
# commands:  scripts/check-size.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/release}"
max_file=500 max_function=80
status=0
while read -r lines file; do
  if ((lines > max_file)); then
    echo "$file: $lines lines, more than $max_file: split it by purpose" >&2
    status=1
  fi
done < <(git ls-files '*.cc' '*.h' '*.cu' '*.cuh' | xargs wc -l | grep -v ' total$')

[[ -f "$build/compile_commands.json" ]] || { echo "no $build/compile_commands.json: configure the build first" >&2; exit 2; }
# The C++ translation units of the build (the CUDA ones are compiled by nvcc, which clang-tidy does not read).
mapfile -t units < <(git ls-files '*.cc')
config="{Checks: '-*,readability-function-size', WarningsAsErrors: '*',
         CheckOptions: [{key: readability-function-size.LineThreshold, value: $max_function}]}"
report=$(printf '%s\n' "${units[@]}" | xargs -P "$(nproc)" -n 8 clang-tidy -p "$build" --quiet --config="$config" \
           --header-filter="^$(pwd)/(sim|cuda|hardware|models|policies|scenarios|results|tests|bench)/" 2>/dev/null || true)
long=$(grep -E "(warning|error): function .* exceeds recommended size" <<<"$report" | sort -u || true)
if [[ -n "$long" ]]; then
  echo "$long" >&2
  echo "functions over $max_function lines: split them (scripts/check-size.sh)" >&2
  status=1
fi
exit $status
