#!/usr/bin/env bash
# Golden outputs: every shipped scenario, sweep and what-if file, shortened, must write byte-identical
# result files from one commit to the next unless a change means to alter them. A refactoring keeps
# this test passing untouched; a change of behaviour regenerates the hashes on purpose:
#   tests/golden/golden.sh build/release/moesim --update
# and the commit says why the numbers moved.
set -euo pipefail
moesim="$(realpath "$1")"
mode="${2:-check}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
expected="$here/outputs.sha256"
work="$(mktemp -d "${TMPDIR:-/tmp}/moesim-golden.XXXXXX")"
trap 'rm -rf -- "$work"' EXIT
mkdir "$work/out"
cd "$work/out"

run() { "$moesim" "$@" -q >/dev/null; }

for scenario in "$root"/scenarios/*.yaml; do
  name="$(basename "$scenario" .yaml)"
  run run "$scenario" --steps 40 --out "run/$name"
done
run run "$root/scenarios/quickstart.yaml" --steps 3 --timeline --out run/quickstart_timeline
for whatif in "$root"/scenarios/whatif/*.yaml; do
  name="$(basename "$whatif" .yaml)"
  [[ "$name" == planner_base ]] && continue
  run compare "$whatif" --steps 20 --seeds 2 --jobs 2 --csv "compare_$name.csv"
done
for sweep in "$root"/scenarios/sweeps/*.yaml; do
  name="$(basename "$sweep" .yaml)"
  run sweep "$sweep" --set steps=10 --jobs 2 --out "sweep/$name"
done
"$moesim" trace generate "$root/scenarios/learned_gpt3_125m.yaml" --steps 400 --out trace.h5 >/dev/null
"$moesim" trace generate "$root/scenarios/quickstart.yaml" --steps 60 --out train.h5 >/dev/null
run predict trace.h5 --stride 50 --horizons 1,50 --csv predict.csv
run predict trace.h5 --train train.h5 --predictors lstm,sw_avg --lstm-iterations 20 --stride 50 \
  --horizons 1,50 --csv predict_lstm.csv
"$moesim" topo "$root/scenarios/quickstart.yaml" --dot topo.dot >/dev/null

# Directory locks are empty bookkeeping files, not results.
find . -type f ! -name .moesim.lock | LC_ALL=C sort | xargs sha256sum > "$work/actual.sha256"
if [[ "$mode" == --update ]]; then
  cp "$work/actual.sha256" "$expected"
  echo "wrote $(wc -l < "$expected") hashes to $expected"
elif ! diff -u "$expected" "$work/actual.sha256"; then
  echo "golden outputs changed (lines above: - expected, + now). If the change is meant, rerun with --update." >&2
  exit 1
fi
