#!/usr/bin/env bash
# The parallel efficiency of `moesim sweep`: a sweep of 64 small points (sweep_bench's: 2 nodes of
# 4 H100, GPT-3 125M MoE, skewed gating, static and predictive placement) run with --jobs 1 and
# --jobs 2, ROUNDS rounds in turn, each from an empty output directory. With a second binary
# OTHER (e.g. an older build), each round also runs it with --jobs 2, and the two are compared
# round by round, which cancels most of a shared machine's drift.
#
#   bench/sweep_efficiency.sh MOESIM [ROUNDS] [STEPS] [OTHER]     e.g. bench/sweep_efficiency.sh build/release/moesim 20 100
#
# Efficiency is the --jobs 1 time over twice the --jobs 2 time of the same round; printed as the
# median over the rounds, with the range.
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,11p' "$0" >&2; exit 2; }
moesim=$(realpath "$1")
rounds=${2:-20}
steps=${3:-100}
other=${4:+$(realpath "$4")}
[[ $rounds =~ ^[1-9][0-9]*$ && $steps =~ ^[1-9][0-9]*$ ]] || { echo "sweep_efficiency.sh: ROUNDS and STEPS: whole numbers from 1" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/moesim-sweep-efficiency.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
cat > "$work/base.yaml" <<EOF
steps: $steps
cluster: {preset: h100-dgx, nodes: 2, gpus_per_node: 4, nic: {count: 4}}
model: {preset: gpt3-125m-moe}
training: {tokens_per_step: 65536}
gating: {source: skewed}
policies: [{placement: static}, {placement: predictive, rebalance_every: 20, horizon: 10}]
EOF
printf 'base: base.yaml\ngrid:\n  seed: [%s]\n  gating.routing: [topk, hash]\n' "$(seq -s ', ' 32)" > "$work/sweep.yaml"

# Wall seconds of one sweep from scratch.
timed() {
  rm -rf -- "$work/out"
  /usr/bin/time -f '%e' -o "$work/time" "$1" sweep "$work/sweep.yaml" --out "$work/out" -q --jobs "$2" >/dev/null
  cat "$work/time"
}
echo "# $moesim${other:+ against $other}: 64 points of $steps steps, $rounds rounds, $(nproc) cores" >&2
for ((r = 1; r <= rounds; ++r)); do
  # Alternate the order, so that neither side always runs first.
  if ((r % 2)); then
    one=$(timed "$moesim" 1); two=$(timed "$moesim" 2); theirs=${other:+$(timed "$other" 2)}
  else
    theirs=${other:+$(timed "$other" 2)}; two=$(timed "$moesim" 2); one=$(timed "$moesim" 1)
  fi
  echo "$one $two ${theirs:--}"
done | python3 -c '
import statistics, sys
rows = [line.split() for line in sys.stdin]
def summary(values, scale=1.0, unit=""):
    values = [v * scale for v in values]
    return f"{statistics.median(values):.{0 if unit else 3}f}{unit} ({min(values):.{0 if unit else 3}f} to {max(values):.{0 if unit else 3}f})"
one = [float(r[0]) for r in rows]; two = [float(r[1]) for r in rows]
print("--jobs 1:", summary(one), "s;  --jobs 2:", summary(two), "s;  efficiency", summary([a / (2 * b) for a, b in zip(one, two)], 100, " %"))
if rows[0][2] != "-":
    theirs = [float(r[2]) for r in rows]
    print("other binary, --jobs 2:", summary(theirs), "s;  efficiency", summary([a / (2 * b) for a, b in zip(one, theirs)], 100, " %"))
    ratio = [b / a for a, b in zip(two, theirs)]
    print("other / this at --jobs 2:", summary(ratio), f"; this faster in {sum(x > 1 for x in ratio)} of {len(ratio)} rounds")
'
