#!/usr/bin/env python3
"""Fit the compute model's GEMM shape terms (sim/step/compute_model.h) on DeepGEMM's published H800
kernel figures (tests/sim/data/deepgemm_h800.csv): a grid over the kernel-level efficiency, the
rows' half-point (gemm_half_rows) and the width's (gemm_half_width), on the rows marked "fit"
(half of those with M >= 256), then the error on the held-out half and on the small-M rows.

  gemm_shape_fit.py            print the fit and each row, moesim's model beside DeepGEMM's figure
  gemm_shape_fit.py check      fail unless the Hopper presets (hardware/presets.cc) carry the fitted
                               half-points and README.md quotes this fit's held-out errors

The kernel-level efficiency stays here: a whole training step reaches less than one kernel alone,
and the presets' gemm_efficiency is fitted on published training runs instead (scripts/published.py).
"""
import csv
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PEAK = 1978.9e12            # H800 dense FP8, as hardware/presets.cc
HBM = 3.35e12 * 0.85        # HBM bandwidth times the presets' memory_efficiency


def load():
    with open(ROOT / "tests/sim/data/deepgemm_h800.csv") as f:
        lines = [line for line in f if not line.startswith("#")]
    return [dict(r, **{k: float(r[k]) for k in ("groups", "m", "n", "k", "tflops")}) for r in csv.DictReader(lines)]


def model_tflops(r, efficiency, half_rows, half_width):
    m, n, k = r["m"], r["n"], r["k"]
    eff = efficiency * m / (m + half_rows) * n / (n + half_width) * k / (k + half_width)
    flops = 2 * m * n * k
    seconds = max(flops / (PEAK * eff), (m * k + n * k + 2 * m * n) / HBM)  # FP8 inputs, BF16 output
    return flops / seconds / 1e12


def errors(rows, *params):
    return [model_tflops(r, *params) / r["tflops"] - 1 for r in rows]


def mean_abs(v):
    return 100 * sum(map(abs, v)) / len(v)


def fitted(rows):
    """The least-squares grid point on the "fit" rows, with and without the width term."""
    fit = [r for r in rows if r["role"] == "fit"]
    square = lambda params: sum(e * e for e in errors(fit, *params))
    grid = ((s / 100, h, w) for h in range(0, 1025, 16) for w in range(0, 2001, 25) for s in range(40, 101))
    rows_only = ((s / 100, h, 0) for h in range(0, 1025, 16) for s in range(30, 101))
    return min(grid, key=square), min(rows_only, key=square)


def held_out_errors(rows, params, plain):
    held = [r for r in rows if r["role"] == "held"]
    return f"{mean_abs(errors(held, *params)):.1f} %", f"{mean_abs(errors(held, *plain)):.1f} %"


def check(rows):
    params, plain = fitted(rows)
    problems = []
    presets = (ROOT / "hardware/presets.cc").read_text()
    for key, value in (("gemm_half_rows", params[1]), ("gemm_half_width", params[2])):
        if not re.search(rf"g\.{key} = {value};", presets):
            problems.append(f"hardware/presets.cc does not set {key} = {value}, the fit's")
    with_width, without = held_out_errors(rows, params, plain)
    quoted = f"{with_width} mean error on the other half, {without} without the width term"
    if quoted not in " ".join((ROOT / "README.md").read_text().split()):
        problems.append(f"README.md does not quote the held-out errors: \"{quoted}\"")
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    return 1 if problems else 0


def main():
    rows = load()
    if sys.argv[1:] == ["check"]:
        return check(rows)
    if sys.argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    params, rows_only = fitted(rows)
    print(f"kernel efficiency {params[0]:.2f}, gemm_half_rows {params[1]}, gemm_half_width {params[2]}")
    print(f"without the width term: kernel efficiency {rows_only[0]:.2f}, gemm_half_rows {rows_only[1]}")
    print("| groups | M | N | K | DeepGEMM TFLOP/s | moesim | error | without width | role |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        got, plain = model_tflops(r, *params), model_tflops(r, *rows_only)
        print(f"| {r['groups']:.0f} | {r['m']:.0f} | {r['n']:.0f} | {r['k']:.0f} | {r['tflops']:.0f} | {got:.0f} | "
              f"{100 * (got / r['tflops'] - 1):+.1f} % | {100 * (plain / r['tflops'] - 1):+.1f} % | {r['role']} |")
    for role in ("fit", "held", "small"):
        part = [r for r in rows if r["role"] == role]
        print(f"{role}: mean absolute error {mean_abs(errors(part, *params)):.1f} % ({len(part)} rows); "
              f"without the width term {mean_abs(errors(part, *rows_only)):.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
