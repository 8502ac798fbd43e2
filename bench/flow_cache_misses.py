#!/usr/bin/env python3
"""Cache misses of a flow-model step, counted by cachegrind in a simulated cache, at two sizes.

  bench/flow_cache_misses.py MOESIM [NODES...]       default nodes: 512 1024

Runs bench/scenarios/flow_8192.yaml cut to each number of nodes (EP 128, the same tokens per GPU,
as network_bench's BM_FlowStep cuts it) at 1 and 2 steps under cachegrind, and prints a step's
counts (2 steps - 1 step): instructions, first-level and last-level data misses, and the functions
with the most last-level misses, each with its ratio between the first size and the last. The
simulated cache has this VM's sizes (48 KiB L1d, 32 MiB L3; set LL and D1 in the environment as
cachegrind's --LL and --D1 take them for another machine). Deterministic: unlike timings, the
counts are the same on every run. About two minutes a size.
"""
import collections
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "bench" / "scenarios" / "flow_8192.yaml"
EVENTS = ["Ir", "D1mr", "D1mw", "DLmr", "DLmw"]
TOP = 8


def counts(path):
    """Per function, the cachegrind events (EVENTS) summed over its lines."""
    names, per_function, function = None, collections.defaultdict(lambda: [0] * len(EVENTS)), None
    for line in open(path):
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith("fn="):
            function = line[3:].strip()
        elif function and line[:1].isdigit():
            values = dict(zip(names, (int(v) for v in line.split()[1:])))
            row = per_function[function]
            for i, event in enumerate(EVENTS):
                row[i] += values.get(event, 0)
    return per_function


def run(moesim, nodes, steps, work):
    out = pathlib.Path(work) / f"{nodes}-{steps}"
    sets = [f"cluster.nodes={nodes}", f"parallelism.dp={nodes * 8}", f"training.tokens_per_step={nodes * 8 * 2048}",
            f"steps={steps}", f"output.dir={out}"]
    args = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", f"--LL={os.environ.get('LL', '33554432,16,64')}",
            f"--D1={os.environ.get('D1', '49152,12,64')}", f"--cachegrind-out-file={out}.cg", moesim, "run", str(SCENARIO),
            "-q", "--threads", "1"]
    for s in sets:
        args += ["--set", s]
    subprocess.run(args, check=True, capture_output=True)
    return counts(f"{out}.cg")


def step(moesim, nodes, work):
    one, two = run(moesim, nodes, 1, work), run(moesim, nodes, 2, work)
    return {f: [b - a for a, b in zip(one.get(f, [0] * len(EVENTS)), row)] for f, row in two.items()}


def short_name(function):
    """The function's name without its parameter list (which may hold parentheses of its own)."""
    if not function.endswith(")"):
        return function
    depth = 0
    for i in range(len(function) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(function[i], 0)
        if depth == 0:
            return function[:i]
    return function


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    moesim, sizes = argv[1], [int(n) for n in argv[2:]] or [512, 1024]
    with tempfile.TemporaryDirectory(prefix="moesim-cache.") as work:
        steps = {n: step(moesim, n, work) for n in sizes}
    first, last = steps[sizes[0]], steps[sizes[-1]]
    total = {n: [sum(row[i] for row in s.values()) for i in range(len(EVENTS))] for n, s in steps.items()}
    header = " | ".join(f"{n * 8:,} GPUs" for n in sizes)
    print(f"| per step | {header} | ratio |\n|---|{'---|' * len(sizes)}---|")

    def line(label, values):
        ratio = values[-1] / values[0] if values[0] else float("inf")
        print(f"| {label} | " + " | ".join(f"{v:,}" for v in values) + f" | {ratio:.2f} |")

    line("instructions", [total[n][0] for n in sizes])
    line("first-level data misses", [total[n][1] + total[n][2] for n in sizes])
    line("last-level data misses", [total[n][3] + total[n][4] for n in sizes])
    misses = lambda row: row[3] + row[4]  # noqa: E731
    for function in sorted(last, key=lambda f: -misses(last[f]))[:TOP]:
        line(f"`{short_name(function)}`", [misses(steps[n].get(function, [0] * len(EVENTS))) for n in sizes])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
