#!/usr/bin/python3
"""Figures of a moesim run or sweep, as PNGs beside its results.

    results/plot.py RUN_DIR      # a `moesim run` output directory (run.h5)
    results/plot.py SWEEP_DIR    # a `moesim sweep` output directory (sweep.h5)
    results/plot.py GATE_DIR     # scripts/gate_sensitivity.py's directory (gate_sensitivity.csv)

A run gives step_time.png (step time over training per policy), gpu_utilization.png (busy share
of each GPU at each step), expert_load.png (one layer's expert loads over training: the
transient, then the stable phase), and forecast_error.png (each plan's forecast error per
policy; with prediction_errors.csv from `moesim predict --csv` in the directory, the error
against the forecast horizon per predictor instead). A sweep gives sweep_<axis>.png for each
axis: every metric against that axis, one line per policy, averaged over the other axes (axes
that advance together, a sweep's zip, share one figure, sweep_<axis>_and_<axis>.png).
The learned gate's sensitivity gives gate_sensitivity.png: for each knob, the steps at which the
first and the last MoE layer settle, and SW_Avg's stable-phase error 1,000 steps ahead.

Uses Debian's python3-h5py, python3-matplotlib and python3-numpy (scripts/install-deps.sh).
The file layouts are in results/README.md.
"""

import argparse
import csv
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

SWEEP_METRICS = [
    ("step_ms_mean", "step time (ms)"),
    ("tokens_per_s", "tokens/s"),
    ("gpu_util_mean", "GPU utilization"),
    ("a2a_share", "all-to-all share of the step"),
    ("imbalance_max_mean", "expert imbalance (max/mean)"),
    ("cost_per_mtok", "cost per million tokens"),
]


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def policies(run):
    group = run["policies"]
    return [(text(group[key].attrs["label"]), group[key]) for key in sorted(group, key=int)]


def moving_mean(values, window):
    """The mean of every `window` consecutive values, at the step in each window's centre."""
    if window <= 1 or len(values) < window:
        return np.arange(len(values)), values
    return np.arange(len(values) - window + 1) + (window - 1) / 2, np.convolve(values, np.ones(window) / window, mode="valid")


def save(fig, directory, name, written):
    path = os.path.join(directory, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(path)


def plot_step_time(run, directory, written):
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, group in policies(run):
        step_ms = group["step_ms"][:]
        window = max(1, len(step_ms) // 50)
        line = ax.plot(step_ms, alpha=0.25, linewidth=0.8)[0]
        steps, mean = moving_mean(step_ms, window)
        ax.plot(steps, mean, color=line.get_color(), linewidth=1.6, label=f"{label} (mean {step_ms.mean():.1f} ms)")
    ax.set_xlabel("training step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("step time (ms)")
    ax.set_title(f"Step time over training: {text(run.attrs['scenario'])} (faint: every step; solid: moving mean)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, directory, "step_time.png", written)


def plot_gpu_utilization(run, directory, written):
    groups = policies(run)
    height = 1.9 * len(groups) + 0.8
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, height), sharex=True, squeeze=False)
    # The default top margin is a share of the height: on a tall figure, inches of blank under the title.
    fig.subplots_adjust(top=1 - 0.55 / height)
    image = None
    for ax, (label, group) in zip(axes[:, 0], groups):
        utilization = group["gpu_busy_ms"][:] / group["step_ms"][:][:, None]
        image = ax.imshow(utilization.T, aspect="auto", origin="lower", vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
        ax.set_ylabel("GPU")
        ax.set_title(f"{label}: mean {utilization.mean() * 100:.1f} %", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("training step")
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("GPU utilization (compute-busy share of each step)", y=1 - 0.15 / height)
    fig.colorbar(image, ax=axes[:, 0].tolist(), fraction=0.03, pad=0.02, label="busy share")
    save(fig, directory, "gpu_utilization.png", written)


def plot_expert_load(run, directory, layer, written):
    if "expert_loads" in run:
        loads, source = run["expert_loads"][:], ""
    else:  # placement-aware routing: every policy routes its own tokens; show the first's
        label, group = policies(run)[0]
        loads, source = group["expert_loads"][:], f" (as routed under {label})"
    if not 0 <= layer < loads.shape[1]:
        sys.exit(f"plot.py: --layer {layer}: the run has MoE layers 0..{loads.shape[1] - 1}")
    per_step = loads[:, layer, :].astype(float)
    share = per_step / np.maximum(per_step.sum(axis=1, keepdims=True), 1)
    fig, (heat, ratio) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    image = heat.imshow(share.T, aspect="auto", origin="lower", cmap="magma", interpolation="nearest")
    heat.set_ylabel("expert")
    heat.set_title(f"Expert load over training, MoE layer {layer}{source}")
    fig.colorbar(image, ax=heat, fraction=0.03, pad=0.02, label="share of the layer's tokens")
    # How much of the layer's load changed expert since the step before: high while the gate is
    # transient, low once it is stable.
    churn = 50 * np.abs(np.diff(share, axis=0)).sum(axis=1)
    window = max(1, len(churn) // 60)
    ratio.plot(np.arange(1, len(churn) + 1), churn, alpha=0.3, linewidth=0.6)
    steps, mean = moving_mean(churn, window)
    ratio.plot(steps + 1, mean, linewidth=1.4)
    ratio.set_ylabel("load moved\nfrom the step\nbefore (%)", fontsize=8)
    ratio.set_xlabel("training step")
    ratio.xaxis.set_major_locator(MaxNLocator(integer=True))
    ratio.grid(alpha=0.3)
    save(fig, directory, "expert_load.png", written)


def plot_forecast_error(run, directory, written):
    csv_path = os.path.join(directory, "prediction_errors.csv")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if os.path.exists(csv_path):
        errors = {}
        with open(csv_path, newline="") as f:
            for row in csv.DictReader(f):
                key = (row["predictor"], row["phase"])
                errors.setdefault(key, {}).setdefault(int(row["horizon"]), []).append(float(row["error_pp"]))
        for (predictor, phase), by_horizon in sorted(errors.items()):
            horizons = sorted(by_horizon)
            ax.plot(horizons, [np.mean(by_horizon[h]) for h in horizons], marker="o",
                    linestyle="-" if phase == "stable" else "--", label=f"{predictor}, {phase}")
        ax.set_xscale("log")
        ax.set_xlabel("forecast horizon (steps)")
        ax.set_title("Predictor error against horizon (from prediction_errors.csv)")
    else:
        plotted = False
        for label, group in policies(run):
            if len(group["forecast_error_pp"]) == 0:
                continue
            steps, error = group["forecast_first_step"][:], group["forecast_error_pp"][:]
            ax.plot(steps, error, marker="o", markersize=3, label=f"{label} (mean {error.mean():.3f} pp)")
            plotted = True
        if not plotted:
            plt.close(fig)
            return
        ax.set_xlabel("training step of the plan")
        ax.set_title("Forecast error of each placement plan over the steps it placed")
    ax.set_ylabel("mean absolute error of load shares (pp)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, directory, "forecast_error.png", written)
    if os.path.exists(csv_path):
        written[-1] += " (against the horizon, from prediction_errors.csv)"


def plot_run(directory, layer):
    written = []
    with h5py.File(os.path.join(directory, "run.h5"), "r") as run:
        plot_step_time(run, directory, written)
        plot_gpu_utilization(run, directory, written)
        plot_expert_load(run, directory, layer, written)
        plot_forecast_error(run, directory, written)
    return written


def axis_positions(values):
    """Numbers where every value is one, categories in first-seen order otherwise."""
    try:
        numbers = [float(v) for v in values]
        return numbers, None
    except ValueError:
        order = list(dict.fromkeys(values))
        return [order.index(v) for v in values], order


def tied_axes(axes, values):
    """The axes in groups that move together: a sweep's zip axes (each value of one goes with one
    value of the other at every point), each grid axis alone. Averaging over an axis tied to the
    one plotted would average over nothing."""
    groups = []
    for axis in axes:
        for group in groups:
            pairs = set(zip(values[group[0]], values[axis]))
            if len(pairs) == len(set(values[group[0]])) == len(set(values[axis])):
                group.append(axis)
                break
        else:
            groups.append([axis])
    return groups


def plot_sweep(directory):
    written = []
    with h5py.File(os.path.join(directory, "sweep.h5"), "r") as sweep:
        axes = [text(a) for a in sweep["axes"][:]]
        labels = [text(p) for p in sweep["policy"][:]]
        metrics = {name: sweep["metrics"][name][:] for name, _ in SWEEP_METRICS}
        axis_values = {axis: [text(v) for v in sweep["axis"][axis][:]] for axis in axes}
        for group in tied_axes(axes, axis_values):
            axis = " and ".join(group)
            x, categories = axis_positions(axis_values[group[0]])
            if len(group) > 1:  # ticks that name each tied axis's value
                ticks = {xi: " / ".join(axis_values[a][i] for a in group) for i, xi in enumerate(x)}
                order = sorted(ticks)
                categories = [ticks[xi] for xi in order]
                x = [order.index(xi) for xi in x]
            shown = [(name, title) for name, title in SWEEP_METRICS if not np.all(np.isnan(metrics[name]))]
            columns = 3
            rows = (len(shown) + columns - 1) // columns
            fig, grid = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
            for ax, (name, title) in zip(grid.flat, shown):
                for label in dict.fromkeys(labels):
                    points = {}
                    for xi, li, v in zip(x, labels, metrics[name]):
                        if li == label and not np.isnan(v):
                            points.setdefault(xi, []).append(v)
                    xs = sorted(points)
                    ax.plot(xs, [np.mean(points[p]) for p in xs], marker="o", label=label)
                ax.set_title(title, fontsize=9)
                ax.set_xlabel(axis, fontsize=8)
                if categories:
                    ax.set_xticks(range(len(categories)))
                    ax.set_xticklabels(categories, fontsize=7, rotation=20)
                ax.grid(alpha=0.3)
            for ax in list(grid.flat)[len(shown):]:
                ax.set_visible(False)
            grid.flat[0].legend(fontsize=7)
            others = [a for a in axes if a not in group]
            fig.suptitle(f"{text(sweep.attrs['name'])}: metrics against {axis}" + (" together" if len(group) > 1 else "")
                         + (f" (mean over {', '.join(others)})" if others else ""))
            fig.tight_layout()
            name = "_and_".join(group)
            save(fig, directory, "sweep_" + "".join(c if c.isalnum() or c in "._-" else "_" for c in name) + ".png", written)
    return written


def plot_gate_sensitivity(directory):
    with open(os.path.join(directory, "gate_sensitivity.csv")) as f:
        rows = list(csv.DictReader(f))
    knobs = list(dict.fromkeys(r["knob"] for r in rows))
    columns = 3
    rows_of_panels = (len(knobs) + columns - 1) // columns
    fig, grid = plt.subplots(rows_of_panels, columns, figsize=(4.6 * columns, 3.4 * rows_of_panels + 0.6), squeeze=False)
    number = lambda v: float(v) if v != "" else np.nan
    for ax, knob in zip(grid.flat, knobs):
        own = [r for r in rows if r["knob"] == knob]
        x = [float(r["value"]) for r in own]
        first, last = [number(r["settle_first"]) for r in own], [number(r["settle_last"]) for r in own]
        ax.fill_between(x, first, last, alpha=0.2, color="C0")
        ax.plot(x, last, marker="o", color="C0", label="the last MoE layer settles")
        ax.plot(x, first, marker=".", color="C0", linestyle=":", label="the first MoE layer settles")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(x)
        ax.set_xticklabels([r["value"] for r in own], fontsize=8)
        ax.set_xlabel(knob, fontsize=9)
        ax.set_ylabel("training step", color="C0", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        for xi, yi in zip(x, last):
            if np.isnan(yi):
                ax.annotate("a layer never settles", (xi, 0), xytext=(0, 12), textcoords="offset points", fontsize=7, ha="center")
        error = ax.twinx()
        error.plot(x, [number(r["stable_sw_avg_pp"]) for r in own], marker="s", color="C3", label="SW_Avg error 1,000 steps ahead, stable")
        error.set_ylabel("stable error (pp)", color="C3", fontsize=9)
        error.set_ylim(bottom=0)
    handles = grid.flat[0].get_legend_handles_labels()[0] + fig.axes[-1].get_legend_handles_labels()[0]
    fig.legend(handles, [h.get_label() for h in handles], loc="lower center", ncol=len(handles), fontsize=9)
    for ax in list(grid.flat)[len(knobs):]:
        ax.set_visible(False)
    fig.suptitle("Learned gate, GPT-3 125M x 16 experts: what sets the time to settle and the stable error (one knob moved at a time)")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    written = []
    save(fig, directory, "gate_sensitivity.png", written)
    return written


def main():
    parser = argparse.ArgumentParser(description="Figures of a moesim run or sweep directory, written as PNGs into it.")
    parser.add_argument("directory", help="a `moesim run` output directory (run.h5), a `moesim sweep` one (sweep.h5), or "
                        "scripts/gate_sensitivity.py's (gate_sensitivity.csv)")
    parser.add_argument("--layer", type=int, default=0, help="the MoE layer of expert_load.png (default 0)")
    args = parser.parse_args()
    if os.path.exists(os.path.join(args.directory, "sweep.h5")):
        written = plot_sweep(args.directory)
    elif os.path.exists(os.path.join(args.directory, "run.h5")):
        written = plot_run(args.directory, args.layer)
    elif os.path.exists(os.path.join(args.directory, "gate_sensitivity.csv")):
        written = plot_gate_sensitivity(args.directory)
    else:
        sys.exit(f"plot.py: {args.directory} holds none of run.h5, sweep.h5, gate_sensitivity.csv")
    print("wrote " + ", ".join(written))


if __name__ == "__main__":
    main()
