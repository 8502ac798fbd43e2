#!/usr/bin/env python3
"""Whether a change that alters random draws keeps a scenario's statistics.

Runs SCENARIO with two moesim binaries (say REV's from bench/compare.sh and the working tree's)
over seeds 1..SEEDS and prints, per policy and metric of summary.csv, each side's mean over the
seeds with the standard error of that mean, and the shift between them in units of the two
standard errors combined. Shifts of a couple of units are seed noise; a change of the model shows
as a shift of many.

    bench/seed_stats.py OLD_MOESIM NEW_MOESIM SCENARIO SEEDS [--set key=value ...]
    bench/seed_stats.py bench/.compare-9ed942d/build/moesim build/release/moesim scenarios/quickstart.yaml 5
"""
import csv
import math
import os
import subprocess
import sys
import tempfile

METRICS = ["step_ms_mean", "imbalance_max_mean", "speedup_vs_static", "forecast_error_pp",
           "a2a_inter_node_gb_per_step", "gpu_util_mean"]


def mean_and_error(values):
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def main():
    if len(sys.argv) < 5 or not sys.argv[4].isdigit() or int(sys.argv[4]) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    old, new, scenario, seeds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    overrides = sys.argv[5:]
    values = {}  # (policy, metric) -> side -> [value per seed]
    with tempfile.TemporaryDirectory() as work:
        for side, binary in (("old", old), ("new", new)):
            for seed in range(1, seeds + 1):
                out = os.path.join(work, f"{side}-{seed}")
                subprocess.run([binary, "run", scenario, "-q", "--set", f"seed={seed}", "--set", f"output.dir={out}", *overrides],
                               check=True, stdout=subprocess.DEVNULL)
                with open(os.path.join(out, "summary.csv"), newline="") as summary:
                    for row in csv.DictReader(summary):
                        for metric in METRICS:
                            if row.get(metric):
                                values.setdefault((row["policy"], metric), {}).setdefault(side, []).append(float(row[metric]))
    print(f"{'policy':24s} {'metric':28s} {'old mean ± error':>24s} {'new mean ± error':>24s}  shift")
    largest = 0.0
    for (policy, metric), sides in values.items():
        (old_mean, old_error), (new_mean, new_error) = mean_and_error(sides["old"]), mean_and_error(sides["new"])
        error = math.hypot(old_error, new_error)
        shift = (new_mean - old_mean) / error if error > 0 else (0.0 if new_mean == old_mean else math.inf)
        largest = max(largest, abs(shift))
        print(f"{policy:24s} {metric:28s} {old_mean:12.6g} ± {old_error:<9.3g} {new_mean:12.6g} ± {new_error:<9.3g}  {shift:+.2f}")
    print(f"largest shift: {largest:.2f} standard errors ({seeds} seeds a side)")


if __name__ == "__main__":
    main()
