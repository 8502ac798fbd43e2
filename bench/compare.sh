#!/usr/bin/env bash
# Builds REV and the working tree side by side (release, one core per run) and prints, for every
# Google Benchmark case both have and for the end-to-end scenarios in bench/scenarios/, REV's and
# the working tree's min and median over RUNS runs and their ratio (REV / working tree: above 1,
# the working tree is faster), with peak memory. Where both runs of the quickstart write
# summary.csv, it says whether they are byte-identical.
#
#   bench/compare.sh REV [RUNS] [BENCH_FILTER]     e.g. bench/compare.sh 9505814 3 'Quickstart|DeepSeek'
#
# With STEPS=N in the environment it also prints each scenario's cost of a step: in each of RUNS
# rounds, each side runs it at 1 and at N steps in turn, and a step costs the difference over N - 1
# (start-up, the first touch of memory and the output files cancel).
#
# REV's sources (git archive) and build are kept in bench/.compare-REV (ignored), so that a second
# comparison does not rebuild; run outputs go to a temporary directory, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { sed -n '2,16p' "$0" >&2; exit 2; }
rev=$(git rev-parse --short "$1^{commit}") || { echo "compare.sh: not a commit: $1" >&2; exit 2; }
runs=${2:-3}
filter=${3:-.}
[[ $runs =~ ^[1-9][0-9]?$ ]] || { echo "compare.sh: RUNS: expected 1 to 99, got '$runs'" >&2; exit 2; }
steps=${STEPS:-}
[[ -z $steps || $steps =~ ^([2-9]|[1-9][0-9]+)$ ]] || { echo "compare.sh: STEPS: expected a whole number from 2, got '$steps'" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/moesim-compare.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
# REV's sources (git archive: nothing registered in the repository) and build, kept for next time.
cache="$PWD/bench/.compare-$rev"
old_build="$cache/build"
if [[ ! -f $cache/src/CMakeLists.txt ]]; then
  rm -rf -- "$cache/src"
  mkdir -p "$cache/src"
  git archive "$rev" | tar -x -C "$cache/src"
fi
echo "building $rev in $old_build and the working tree in build/release ..." >&2
cmake -S "$cache/src" -B "$old_build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$old_build" -j "$(nproc)" >/dev/null
cmake --preset release >/dev/null
cmake --build build/release -j "$(nproc)" >/dev/null

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
echo "# $rev against the working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', modified')), $machine"
echo "# ratio = $rev / working tree (time: above 1 is faster now; memory: above 1 is smaller now); $runs runs each, taskset to one core"

# min and median of the numbers on stdin
stats() { sort -g | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s %s\n", v[1], m}'; }

echo
echo "## end to end (wall seconds, peak resident memory)"
printf '%-28s %20s %20s %8s %12s %12s %8s\n' scenario "$rev min/median" "now min/median" ratio "$rev MB" "now MB" ratio
for scenario in bench/scenarios/*.yaml; do
  name=$(basename "$scenario" .yaml)
  declare -A times=() peaks=()
  for side in old new; do
    binary=$([[ $side == old ]] && echo "$old_build/moesim" || echo build/release/moesim)
    : >"$work/$side.times"
    peak=0
    for ((i = 0; i < runs; i++)); do
      rm -rf -- "$work/out-$side"
      if ! taskset -c 0 /usr/bin/time -f '%e %M' -o "$work/time" "$binary" run "$scenario" --set "output.dir=$work/out-$side" \
        >/dev/null 2>"$work/err"; then
        echo "$name: the $side build cannot run it: $(tail -1 "$work/err")" >&2
        continue 3
      fi
      read -r seconds kb <"$work/time"
      echo "$seconds" >>"$work/$side.times"
      ((kb > peak)) && peak=$kb
    done
    times[$side]=$(stats <"$work/$side.times")
    peaks[$side]=$peak
  done
  read -r old_min old_median <<<"${times[old]}"
  read -r new_min new_median <<<"${times[new]}"
  awk -v n="$name" -v om="$old_min" -v od="$old_median" -v nm="$new_min" -v nd="$new_median" -v op="${peaks[old]}" -v np="${peaks[new]}" \
    'BEGIN {printf "%-28s %9s / %-8s %9s / %-8s %7.2fx %12.1f %12.1f %7.2fx\n", n, om, od, nm, nd, om / (nm > 0 ? nm : 0.01), op / 1024, np / 1024, op / np}'
  if [[ -f $work/out-old/summary.csv && -f $work/out-new/summary.csv ]]; then
    cmp -s "$work/out-old/summary.csv" "$work/out-new/summary.csv" && same="byte-identical" ||
      same="different (expected only where what is simulated changed since $rev; moesim compare shows how)"
    echo "  summary.csv: $same"
  fi
done

if [[ -n $steps ]]; then
  echo
  echo "## a step (wall seconds at $steps steps less at 1, over $((steps - 1)); each round runs both sides in turn)"
  printf '%-28s %20s %20s %8s\n' scenario "$rev min/median" "now min/median" ratio
  for scenario in bench/scenarios/*.yaml; do
    name=$(basename "$scenario" .yaml)
    : >"$work/old.step" && : >"$work/new.step"
    for ((i = 0; i < runs; i++)); do
      for side in old new; do
        binary=$([[ $side == old ]] && echo "$old_build/moesim" || echo build/release/moesim)
        for n in 1 "$steps"; do
          rm -rf -- "$work/out-$side"
          taskset -c 0 /usr/bin/time -f '%e' -o "$work/time-$n" "$binary" run "$scenario" --set "steps=$n" \
            --set "output.dir=$work/out-$side" >/dev/null 2>"$work/err" || { echo "$name: the $side build cannot run it" >&2; continue 4; }
        done
        awk -v a="$(cat "$work/time-1")" -v b="$(cat "$work/time-$steps")" -v n="$steps" 'BEGIN {printf "%.4f\n", (b - a) / (n - 1)}' \
          >>"$work/$side.step"
      done
    done
    read -r old_min old_median <<<"$(stats <"$work/old.step")"
    read -r new_min new_median <<<"$(stats <"$work/new.step")"
    awk -v n="$name" -v om="$old_min" -v od="$old_median" -v nm="$new_min" -v nd="$new_median" \
      'BEGIN {printf "%-28s %9s / %-8s %9s / %-8s %7.2fx\n", n, om, od, nm, nd, om / (nm > 0 ? nm : 0.0001)}'
  done
fi

echo
echo "## Google Benchmark (real time per iteration; cases whose names both builds have)"
for side in old new; do
  dir=$([[ $side == old ]] && echo "$old_build/bench" || echo build/release/bench)
  for exe in "$dir"/*_bench; do
    [[ -x $exe ]] || continue
    taskset -c 0 "$exe" --benchmark_filter="$filter" --benchmark_repetitions="$runs" --benchmark_format=json \
      >"$work/$side-$(basename "$exe").json" 2>"$work/err" ||
      echo "$side $(basename "$exe") failed: $(grep -v '^$' "$work/err" | tail -1)" >&2
  done
done
python3 - "$work" "$rev" <<'EOF'
import json, pathlib, statistics, sys
work, rev = pathlib.Path(sys.argv[1]), sys.argv[2]
def times(side):
    out = {}
    for f in sorted(work.glob(f"{side}-*.json")):
        try:
            data = json.loads(f.read_text())
        except ValueError:
            continue
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "iteration" and not b.get("error_occurred") and b.get("real_time", 0) > 0:
                scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
                out.setdefault(b["run_name"], []).append(b["real_time"] * scale)
    return out
old, new = times("old"), times("new")
print(f"{'benchmark':<48} {rev + ' min/median':>22} {'now min/median':>22} {'ratio':>8}")
def fmt(s):
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"
for name in sorted(set(old) & set(new)):
    o, n = old[name], new[name]
    print(f"{name:<48} {fmt(min(o)):>10} / {fmt(statistics.median(o)):<9} {fmt(min(n)):>10} / {fmt(statistics.median(n)):<9} "
          f"{min(o) / min(n):7.2f}x")
only = sorted(set(new) - set(old))
if only:
    print(f"only in the working tree: {', '.join(only)}")
EOF
