#!/usr/bin/env python3
"""What sets the learned gate's time to settle and its stable-phase error: one knob at a time.

    gate_sensitivity.py MOESIM OUT_DIR [--short]

Runs scenarios/learned_gpt3_125m.yaml (the prediction paper's 125M setup) with one gating key moved
at a time from the scenario's value, generates each trace, scores SW_Avg 1,000 steps ahead with
`moesim predict`, and writes OUT_DIR/gate_sensitivity.csv with a row per run:

    knob,key,value,steps,settle_first,settle_last,stable_sw_avg_pp

settle_first / settle_last: the first and the last MoE layer's `stable from` step (empty when a layer
never settles); stable_sw_avg_pp: SW_Avg's mean absolute error in the stable phase. The knobs are what
a user knows of a training recipe: the learning rate's decay length (Megatron's --lr-decay-iters;
here the run's length, as when it equals --train-iters), its peak, the auxiliary-loss coefficient,
the batch the gate learns from (its gradient noise), how fast the data's topic mix drifts, and
how far tokens scatter around their topic's centre.
`results/plot.py OUT_DIR` draws gate_sensitivity.png.
--short: the same knobs on runs ten times shorter (the readme_figures test's fingerprint).
"""
import csv
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "learned_gpt3_125m.yaml"
HORIZON = 1000
SHORT_HORIZON = 100

# (knob, key, values); the scenario's own value is among them. The decay knob sets `steps` too.
KNOBS = [
    ("learning-rate decay length = the run's steps", "steps", [5000, 10000, 20000]),
    ("peak learning rate", "gating.lr", [0.25, 0.5, 1.0]),
    ("auxiliary-loss coefficient", "gating.aux", [0.01, 0.05, 0.2]),
    ("tokens the gate learns from per step", "gating.learn_tokens", [64, 256, 1024]),
    ("topic drift per step", "gating.topic_drift", [0.0005, 0.002, 0.008]),
    ("token noise around its topic's centre", "gating.noise", [0.25, 0.5, 1.0]),
]
BASE = {"steps": 10000, "gating.lr": 0.5, "gating.aux": 0.05, "gating.learn_tokens": 256, "gating.topic_drift": 0.002,
        "gating.noise": 0.5}


def measure(moesim, overrides, short):
    """(settle_first, settle_last, stable SW_Avg error) of one run of the scenario."""
    steps = overrides["steps"] // 10 if short else overrides["steps"]
    sets = []
    for key, value in overrides.items():
        if key != "steps":
            sets += ["--set", f"{key}={value}"]
    if short:
        sets += ["--set", "gating.warmup_steps=72"]
    with tempfile.TemporaryDirectory(prefix="moesim-gate-") as scratch:
        trace = str(pathlib.Path(scratch) / "trace.h5")
        subprocess.run([moesim, "trace", "generate", str(SCENARIO), "--steps", str(steps), *sets, "--out", trace],
                       check=True, capture_output=True)
        horizon = SHORT_HORIZON if short else HORIZON
        extra = ["--stride", "20", "--window", "20", "--phase-window", "20"] if short else []
        out = subprocess.run([moesim, "predict", trace, "--predictors", "sw_avg", "--horizons", str(horizon), *extra, "-q"],
                             check=True, capture_output=True, text=True).stdout
    settled = [int(s) for s in re.findall(r"stable from step (\d+)", out)]
    never = len(re.findall(r"never settles", out))
    error = re.search(rf"^\s+sw_avg\s+{horizon}\s+\S+\s+(\S+)\s+\S+$", out, re.M)
    first = min(settled) if settled else None
    last = max(settled) if settled and not never else None
    return first, last, (error.group(1) if error and error.group(1) != "-" else None)


def rows(moesim, short=False):
    cache = {}
    result = []
    for knob, key, values in KNOBS:
        for value in values:
            overrides = dict(BASE, **{key: value})
            signature = tuple(sorted(overrides.items()))
            if signature not in cache:
                cache[signature] = measure(moesim, overrides, short)
            first, last, error = cache[signature]
            steps = overrides["steps"] // 10 if short else overrides["steps"]
            result.append({"knob": knob, "key": key, "value": value, "steps": steps, "settle_first": first,
                           "settle_last": last, "stable_sw_avg_pp": error})
    return result


def write(path, table):
    """Writes the table to `path`, which must not exist: a scratch file beside it, linked into place."""
    with tempfile.NamedTemporaryFile("w", newline="", dir=path.parent, prefix=".gate_sensitivity.", suffix=".tmp",
                                     delete=False) as f:
        scratch = f.name
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        for row in table:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(scratch, 0o666 & ~umask)  # as an ordinary file would be, not the scratch file's 0600
    try:
        os.link(scratch, path)
    finally:
        os.unlink(scratch)


def main():
    if len(sys.argv) < 3 or sys.argv[2].startswith("-"):
        sys.exit(__doc__)
    moesim, out = sys.argv[1], pathlib.Path(sys.argv[2])
    target = out / "gate_sensitivity.csv"
    if target.exists() or target.is_symlink():
        print(f"gate_sensitivity.py: {target} already exists; move it away or name another directory", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    table = rows(moesim, short="--short" in sys.argv[3:])
    try:
        write(target, table)
    except FileExistsError:
        print(f"gate_sensitivity.py: {target} appeared while the runs went on; left as it is", file=sys.stderr)
        return 2
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
