#!/usr/bin/env python3
"""The figures README.md quotes, made by running moesim, and the check that they are current.

Each figure is a block of README.md between `<!-- figure NAME ... -->` and `<!-- end figure NAME -->`,
rendered here from the output of full-length runs. A figure also has a short version of the same
runs, fast enough for the test suite; tests/readme/figures.json records the hash of each block and
of its short runs' output.

    readme_figures.py update MOESIM   full runs: rewrite the blocks and the record (scripts/readme-figures.sh)
    readme_figures.py check MOESIM    short runs: fail if a block was edited by hand or the short
                                      runs print anything else than when the blocks were made,
                                      which means the model moved and the README figures with it
"""
import csv
import hashlib
import io
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import gate_sensitivity  # scripts/: the learned gate's sensitivity runs

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RECORD = ROOT / "tests" / "readme" / "figures.json"


class Runner:
    """Runs moesim in a scratch directory; outputs name their files relative to it."""

    def __init__(self, moesim, work, short):
        self.moesim, self.work, self.short = moesim, pathlib.Path(work), short
        self.transcript = []  # what the runs printed and wrote, for the short check

    def __call__(self, *args, record=True):
        out = subprocess.run([self.moesim, *map(str, args)], cwd=self.work, check=True, capture_output=True, text=True).stdout
        out = out.replace(str(self.work) + "/", "")
        if record:
            self.transcript.append(out)
        return out

    def file(self, name):
        text = (self.work / name).read_text()
        self.transcript.append(text)
        return text

    def rows(self, name):
        return list(csv.DictReader(io.StringIO(self.file(name))))


def scenario(name):
    return str(ROOT / "scenarios" / name)


def by_policy(rows):
    return {r["policy"]: r for r in rows}


def ms(row):
    return f"{float(row['step_ms_mean']):.2f} ms"


# ---- quickstart ------------------------------------------------------------------------------

def quickstart(run):
    steps = ["--steps", "30"] if run.short else []
    out = run("run", scenario("quickstart.yaml"), *steps, "--out", "results/runs/quickstart", "-q")
    rows = by_policy(run.rows("results/runs/quickstart/summary.csv"))
    static, sw, rep, oracle = rows["static"], rows["predictive-sw_avg"], rows["replicated"], rows["oracle"]
    oracle_rep = rows["oracle-replicated"]
    pct = lambda v: f"{100 * float(v):.0f} %"
    return f"""```
{out.strip()}
```

Read it as: under static placement the hottest GPU processes {float(static['imbalance_max_mean']):.1f}x the mean
expert tokens, so everybody waits for it in every all-to-all and in the expert FFN;
{pct(static['a2a_share'])} of the step is all-to-all and only {pct(static['gpu_util_mean'])} of GPU time is spent
computing ({pct(static['gpu_util_min'])} on the least busy GPU). Packing experts from a forecast every 100
steps brings the imbalance to {float(sw['imbalance_max_mean']):.2f} and the step to {float(sw['speedup_vs_static']):.3f}x the
speed of static, after paying for the moves (the `migration` column: expert weights, gradients
and optimizer state sent over the network). The oracle, which knows the coming loads, is the
upper bound of packing: {float(oracle['speedup_vs_static']):.3f}x. The `forecast err` column scores each plan's forecast
against the loads that followed. Replicating hot experts into a spare slot per GPU balances to
{float(rep['imbalance_max_mean']):.2f} but pays for the spare slots' optimizer work and more moves
({float(rep['speedup_vs_static']):.3f}x), whose own bound, the oracle replicating into the same spare slot, is
{float(oracle_rep['speedup_vs_static']):.3f}x; the lines under the table say which oracle bounds which policies. See
[Placement](#placement)."""


# ---- load prediction -------------------------------------------------------------------------

# The prediction paper's errors (arXiv 2404.16914), stable phase, percentage points: quoted, not computed.
PAPER = {
    "sw_avg": ("≈ 0.25", "≈ 1.3", "≈ 1.7–1.8"),
    "arima": ("≈ 0.5", "≈ 1.4", "—"),
    "lstm": ("< 1", "—", "—"),
}
PREDICTORS = ["sw_avg", "arima", "lstm", "last_value", "ema", "holt", "median"]


def predict(run, name, steps, horizons, extra):
    base = scenario(name)
    run("trace", "generate", base, *steps, "--out", "a.h5", record=False)
    run("trace", "generate", base, *steps, "--set", "seed=8", "--out", "b.h5", record=False)
    out = run("predict", "a.h5", "--train", "b.h5", "--predictors", ",".join(PREDICTORS), "--horizons", horizons, *extra, "-q")
    errors = {}
    for line in out.splitlines():
        m = re.match(r"\s+(\w+)\s+(\d+)\s+([\d.]+|-)\s+([\d.]+|-)\s+([\d.]+|-)$", line)
        if m and m.group(1) in PREDICTORS:
            errors[(m.group(1), int(m.group(2)))] = (m.group(3), m.group(4))
    settle = [int(s) for s in re.findall(r"stable from step (\d+)", out)]
    return errors, settle


def predictors(run):
    if run.short:
        small = ["--stride", "20", "--window", "20", "--phase-window", "20", "--lstm-iterations", "20"]
        e125, s125 = predict(run, "learned_gpt3_125m.yaml", ["--steps", "300"], "1,100", small)
        e350, s350 = predict(run, "learned_gpt3_350m.yaml", ["--steps", "120"], "1,50", small)
        far125, far350a, far350b = 100, 50, 50
    else:
        e125, s125 = predict(run, "learned_gpt3_125m.yaml", [], "1,1000", [])
        e350, s350 = predict(run, "learned_gpt3_350m.yaml", [], "1,1000,2000", [])
        far125, far350a, far350b = 1000, 1000, 2000
    lines = ["| predictor | 125M, 1,000 steps: transient | stable | paper | 350M, 1,000 steps: transient | stable | paper | "
             "350M, 2,000 steps: stable | paper |", "|---|---|---|---|---|---|---|---|---|"]
    for p in PREDICTORS:
        paper = PAPER.get(p, ("—", "—", "—"))
        a, b, c = e125.get((p, far125), ("-", "-")), e350.get((p, far350a), ("-", "-")), e350.get((p, far350b), ("-", "-"))
        lines.append(f"| {p} | {a[0]} | {a[1]} | {paper[0]} | {b[0]} | {b[1]} | {paper[1]} | {c[1]} | {paper[2]} |")
    span = lambda s: f"{min(s):,} and {max(s):,}" if s else "(none settled)"
    value = lambda errors, p, h, phase: float(errors[(p, h)][phase]) if errors.get((p, h), ("-", "-"))[phase] != "-" else None
    ranked = sorted((v, p) for p in PREDICTORS if (v := value(e125, p, far125, 1)) is not None)
    calmer = [p for p in PREDICTORS if None not in (value(e125, p, far125, 0), value(e125, p, far125, 1))
              and value(e125, p, far125, 1) < value(e125, p, far125, 0)]
    calm = "every predictor errs" if len(calmer) == len(PREDICTORS) else ", ".join(calmer) + " err"
    return "\n".join(lines) + f"""

One number was fitted: the 125M run's length (its learning rate decays over it), on the paper's
switch near step 5,000; the errors are held out. In the 125M run {calm} less once
loads settle (the layers settle between steps {span(s125)}; in the 350M run between {span(s350)}).
Ranked by stable-phase error {far125:,} steps ahead in the 125M run: {" < ".join(p for _, p in ranked)}."""


# ---- the learned gate's sensitivity ----------------------------------------------------------

def gate(run):
    table = gate_sensitivity.rows(run.moesim, run.short)
    run.transcript.append(repr(table))
    cell = lambda v: "never" if v is None else f"{v:,}"
    lines = ["| knob (key) | value | first MoE layer settles | last MoE layer settles | SW_Avg error 1,000 steps ahead, stable |",
             "|---|---|---|---|---|"]
    for r in table:
        error = "–" if r["stable_sw_avg_pp"] is None else f"{r['stable_sw_avg_pp']} pp"
        lines.append(f"| {r['knob']} (`{r['key']}`) | {r['value']} | {cell(r['settle_first'])} | {cell(r['settle_last'])} | {error} |")
    decay = [r for r in table if r["key"] == "steps" and r["settle_last"] is not None]
    shares = ", ".join(f"{r['settle_last'] / r['steps']:.2f}" for r in decay)
    errors = lambda drift: [float(r["stable_sw_avg_pp"]) for r in table
                            if r["stable_sw_avg_pp"] is not None and (r["key"] == "gating.topic_drift") == drift]
    calm, drifting = errors(False), errors(True)
    return "\n".join(lines) + f"""

The last layer settles at {shares} of the decay's length as it grows. Over the other knobs the stable
error stays between {min(calm):.3f} and {max(calm):.3f} pp; over the topic drift's range it goes from {min(drifting):.3f} to {max(drifting):.3f} pp."""


# ---- routing modes ---------------------------------------------------------------------------

def routing(run):
    short = ["--steps", "20"] if run.short else []
    measured = ["--set", "gating.c2r.groups=measured"] + (["--set", "gating.c2r.warmup_steps=10"] if run.short else [])

    def static_of(out_dir, *args):
        run("run", *args, *short, "--out", out_dir, "-q", record=False)
        return by_policy(run.rows(out_dir + "/summary.csv"))

    loc = {m: static_of(m, scenario(f"routing_{m}.yaml"))["static"] for m in ("topk", "hash", "locmoe")}
    c2r = static_of("c2r", scenario("routing_c2r.yaml"))["static"]
    topk2 = static_of("c2r_topk", scenario("routing_c2r.yaml"), "--set", "gating.routing=topk")["static"]
    meas = static_of("c2r_measured", scenario("routing_c2r.yaml"), *measured)["static"]
    aff = static_of("c2r_affinity", scenario("routing_c2r.yaml"), *measured, "--set",
                    "policies=[{placement: static}, {placement: affinity, warmup: 100, rebalance_every: 100}]")
    gb = lambda r: f"{float(r['a2a_inter_node_gb_per_step']):.2f} GB/step"
    moved = 1 - float(loc["locmoe"]["a2a_inter_node_gb_per_step"]) / float(loc["topk"]["a2a_inter_node_gb_per_step"])
    fixed_saving = 1 - float(c2r["step_ms_mean"]) / float(topk2["step_ms_mean"])
    affinity_saving = 1 - float(aff["affinity"]["step_ms_mean"]) / float(topk2["step_ms_mean"])
    return f"""```sh
moesim run scenarios/routing_topk.yaml      # static {ms(loc['topk'])}/step, imbalance {float(loc['topk']['imbalance_max_mean']):.2f}, {gb(loc['topk'])} inter-node
moesim run scenarios/routing_hash.yaml      # static {ms(loc['hash'])}/step, imbalance {float(loc['hash']['imbalance_max_mean']):.2f}, {gb(loc['hash'])} inter-node
moesim run scenarios/routing_locmoe.yaml    # static {ms(loc['locmoe'])}/step, imbalance {float(loc['locmoe']['imbalance_max_mean']):.2f}, {gb(loc['locmoe'])} inter-node
```

LocMoE keeps {100 * moved:.0f} % of top-k's inter-node bytes inside the servers, routing over the learned gate
as the other modes do. With LocMoE's own gate, GrAP (`gating.locmoe.gate: grap`: fixed, every
expert a token's best equally often), its loads balance as hash routing's do; the paper's setup
runs it ([The seed papers, on their own setups](#the-seed-papers-on-their-own-setups)).

C2R needs a deduplicating dispatch (`dispatch.dedup: gpu`) to pay off: with groups that sit on
one GPU each, a token's two experts share a GPU and it is sent once (GPT-3 350M, 128 experts,
top-2, 4 DGX H100, 300 steps):

```sh
moesim run scenarios/routing_c2r.yaml                              # {ms(c2r)}/step, {gb(c2r)} inter-node
moesim run scenarios/routing_c2r.yaml --set gating.routing=topk    # {ms(topk2)}/step, {gb(topk2)}
moesim run scenarios/routing_c2r.yaml --set gating.c2r.groups=measured   # {ms(meas)}/step, {gb(meas)}
```

Groups measured from co-activation are not placed together by static placement, so they save
nothing and concentrate load. Placing them together is the `affinity` policy's job:
`--set gating.c2r.groups=measured --set 'policies=[{{placement: static}}, {{placement: affinity, warmup: 100, rebalance_every: 100}}]'`
gives {ms(aff['affinity'])}/step and {gb(aff['affinity'])} inter-node ({float(aff['affinity']['speedup_vs_static']):.2f}× over static). The C2R paper reports
20–30 % time savings over MegaBlocks. Against top-2 routing under static placement, here fixed groups
placed together {"save" if fixed_saving >= 0 else "cost"} {abs(100 * fixed_saving):.0f} %{"" if fixed_saving >= 0 else " more time"}, with loads that the constraint makes less even (imbalance
{float(c2r['imbalance_max_mean']):.2f} against {float(topk2['imbalance_max_mean']):.2f}), and measured groups placed by `affinity` {"save" if affinity_saving >= 0 else "cost"} {abs(100 * affinity_saving):.0f} %."""


# ---- placement -------------------------------------------------------------------------------

def placement(run):
    warmups = [arg for i in range(1, 5) for arg in ("--set", f"policies.{i}.warmup=20")]  # every policy but static
    short = ["--steps", "60", *warmups] if run.short else []
    run("run", scenario("affinity_top2.yaml"), *short, "--out", "affinity", "-q", record=False)
    rows = run.rows("affinity/summary.csv")
    lines = ["| policy | step mean | imbalance | a2a inter-node | a2a intra-node |", "|---|---|---|---|---|"]
    for r in rows:
        speed = "" if r["policy"] == "static" else f" ({float(r['speedup_vs_static']):.3f}×)"
        lines.append(f"| {r['policy']} | {ms(r)}{speed} | {float(r['imbalance_max_mean']):.2f} | "
                     f"{float(r['a2a_inter_node_gb_per_step']):.2f} GB/step | {float(r['a2a_intra_node_gb_per_step']):.2f} GB/step |")
    return "```sh\nmoesim run scenarios/affinity_top2.yaml\n```\n\n" + "\n".join(lines)


# ---- what-if ---------------------------------------------------------------------------------

WHATIFS = [
    ("8 vs 16 nodes, same global batch", "nodes_8_vs_16"),
    ("400G vs 800G NICs", "nic_400g_vs_800g"),
    ("1:1 vs 2:1 oversubscription", "oversubscription_1_vs_2"),
    ("H100 vs H200", "h100_vs_h200"),
    ("static vs predictive at 64 vs 256 experts", "experts_64_vs_256"),
    ("EP groups packed in nodes vs spread across them", "ep_packed_vs_spread"),
]


def whatif(run):
    short = ["--steps", "10", "--seeds", "2"] if run.short else []
    lines = ["| question | `moesim compare scenarios/whatif/...` | static placement, step time | cost per M tokens |", "|---|---|---|---|"]
    sample = ""
    for question, name in WHATIFS:
        out = run("compare", str(ROOT / "scenarios" / "whatif" / (name + ".yaml")), *short, "--csv", name + ".csv", "-q", record=False)
        rows = {(r["policy"], r["metric"]): r for r in run.rows(name + ".csv")}
        step = rows[("static", "step time")]
        noise = "" if step["beyond_noise"] == "yes" else ", within seed noise"
        cell = f"{float(step['base_mean']):.1f} → {float(step['variant_mean']):.1f} ms ({100 * float(step['relative']):+.1f} %{noise})"
        speedup = rows.get(("predictive-sw_avg", "speedup vs static"))
        if name == "experts_64_vs_256" and speedup:  # absent while predictive has not planned yet (short runs)
            within = "" if speedup["beyond_noise"] == "yes" else " (within noise)"
            cell += f"; predictive's speedup over static {float(speedup['base_mean']):.3f} → {float(speedup['variant_mean']):.3f}{within}"
        cost = rows.get(("static", "cost per M tokens"))
        price = f"{float(cost['base_mean']):.4f} → {float(cost['variant_mean']):.4f}" if cost else "-"
        lines.append(f"| {question} | `{name}.yaml` | {cell} | {price} |")
        if name == "nic_400g_vs_800g":
            head = out.split("\n\n")[0:2]
            sample = "\n\n".join(head)
    return "\n".join(lines) + f"""

[scenarios/whatif/README.md](scenarios/whatif/README.md) reads these answers. The start of one:

```
$ moesim compare scenarios/whatif/nic_400g_vs_800g.yaml
{sample.rstrip()}
...
```"""


# ---- nccl-tests' benchmarks on a simulated cluster -------------------------------------------

def bench(run):
    args = ["bench", "collective", scenario("quickstart.yaml")]
    a2a = run(*args, "--op", "all_to_all", "--sizes", "1M:1G:4")
    reduce = run(*args, "--op", "all_reduce", "--gpus", "8", "--sizes", "64M:1G:4")
    return f"""```
$ moesim bench collective scenarios/quickstart.yaml --op all_to_all --sizes 1M:1G:4
{a2a.rstrip()}
$ moesim bench collective scenarios/quickstart.yaml --op all_reduce --gpus 8 --sizes 64M:1G:4
{reduce.rstrip()}
```"""


# ---- DeepEP's dispatch and combine -----------------------------------------------------------

# DeepEP's normal kernels on H800 (deepseek-ai/DeepEP README; ../shared/reference/dispatch.md):
# EP -> (dispatch, combine) bottleneck bandwidth in GB/s, NVLink for EP 8, RDMA above.
DEEPEP = {8: (153, 158), 16: (43, 43), 32: (58, 57), 64: (51, 50)}


def bench_row(out):
    row = [line.split() for line in out.splitlines() if line.strip() and not line.startswith("#")][0]
    return float(row[1]), float(row[2]), float(row[3])  # time (us), NVL, RDMA


# DeepEP's normal kernels elsewhere: (machine and kernel, source, EP, --set, op, figure: 1 NVL or 2 RDMA,
# published GB/s, role). H20's NVLink is the H100's (450 GB/s a direction); EP 2 runs 2 GPUs of a node.
DEEPEP_ELSEWHERE = [
    ("H20, intranode dispatch", "DeepEP #16", 8, ["cluster.preset=h100-dgx"], "dispatch", 1, 337.35,
     "fitted (the least intranode SM rate it allows)"),
    ("H800, intranode BF16 dispatch", "pplx-kernels #10", 8, ["dispatch.dtype=bf16"], "dispatch", 1, 160.46, "held out"),
    ("H200, 2 nodes, FP8 dispatch", "DeepEP #493", 16, ["cluster.preset=h200-dgx"], "dispatch", 2, 38.19, "held out"),
    ("H200, 2 nodes, BF16 dispatch", "DeepEP #493", 16, ["cluster.preset=h200-dgx", "dispatch.dtype=bf16"], "dispatch", 2, 40.89,
     "held out"),
    ("H200, 2 nodes, combine", "DeepEP #493", 16, ["cluster.preset=h200-dgx"], "combine", 2, 44.37, "held out"),
    ("H100, 2 GPUs, 100 SMs, best line", "DeepEP #633", 2,
     ["cluster.preset=h100-dgx", "cluster.gpu.hbm_capacity=1TB", "dispatch.comm_sms=100", "dispatch.dtype=bf16"], "dispatch", 1,
     461.04, "held out: outside, see below"),
]


# DeepEP's low-latency kernels (README at commit 3b1045d): EP: (dispatch us, combine us).
DEEPEP_LL = {8: (163, 318), 16: (173, 329), 32: (182, 350), 64: (186, 353), 128: (192, 369), 256: (194, 360)}


def deepep(run):
    lines = ["Normal kernels (4,096 tokens per rank, groups = nodes, at most 4 per token; `dispatch.kernel: deepep`):", "",
             "| EP (nodes) | DeepEP dispatch | moesim | error | DeepEP combine | moesim | error | nodes per token | role |",
             "|---|---|---|---|---|---|---|---|---|"]
    for ep, (dispatch, combine) in DEEPEP.items():
        nodes = ep // 8
        args = ["bench", "collective", scenario("deepep_dispatch.yaml"), "--set", f"cluster.nodes={nodes}", "--set",
                f"parallelism.ep={ep}", "--set", f"training.global_batch={ep}", "--set", f"model.expert_groups={nodes}",
                "--set", f"model.topk_groups={min(nodes, 4)}"]
        tier = 1 if ep == 8 else 2
        outs = [run(*args, "--op", op) for op in ("dispatch", "combine")]
        got = [bench_row(out)[tier] for out in outs]
        reach = re.search(r"GPUs on ([0-9.]+) nodes", outs[0]).group(1)
        unit = "NVL" if tier == 1 else "RDMA"
        role = {8: "dispatch fitted (NVLink share)", 32: "dispatch fitted (internode SM rate)"}.get(ep, "held out")
        lines.append(f"| {ep} ({nodes}) | {dispatch} GB/s {unit} | {got[0]:.1f} | {100 * (got[0] / dispatch - 1):+.0f} % | "
                     f"{combine} GB/s {unit} | {got[1]:.1f} | {100 * (got[1] / combine - 1):+.0f} % | {reach} | {role} |")
    lines += ["", "The same kernels on other machines, from issue threads (24 SMs unless stated):", "",
              "| machine, kernel | source | published | moesim | error | role |", "|---|---|---|---|---|---|"]
    for what, source, ep, sets, op, tier, published, role in DEEPEP_ELSEWHERE:
        nodes = ep // 8
        args = ["bench", "collective", scenario("deepep_dispatch.yaml"), "--set", f"cluster.nodes={max(nodes, 1)}", "--set",
                f"parallelism.ep={ep}", "--set", f"training.global_batch={max(ep, 8)}", "--set",
                f"model.expert_groups={max(nodes, 1)}", "--set", f"model.topk_groups={max(nodes, 1)}"]
        for s in sets:
            args += ["--set", s]
        got = bench_row(run(*args, "--op", op))[tier]
        unit = "NVL" if tier == 1 else "RDMA"
        lines.append(f"| {what} | {source} | {published} GB/s {unit} | {got:.1f} | {100 * (got / published - 1):+.0f} % | {role} |")
    lines += ["", "Low-latency kernels (128 tokens per rank, no groups; `dispatch.kernel: deepep_ll`):", "",
              "| EP (nodes) | DeepEP dispatch | moesim | error | DeepEP combine | moesim | error | role |",
              "|---|---|---|---|---|---|---|---|"]
    for ep, (dispatch, combine) in DEEPEP_LL.items():
        nodes = ep // 8
        args = ["bench", "collective", scenario("deepep_dispatch.yaml"), "--set", f"cluster.nodes={nodes}", "--set",
                f"parallelism.ep={ep}", "--set", f"training.global_batch={ep}", "--set", "training.seq_len=128", "--set",
                "model.expert_groups=1", "--set", "model.topk_groups=1", "--set", "dispatch.kernel=deepep_ll"]
        got = [bench_row(run(*args, "--op", op))[0] for op in ("dispatch", "combine")]
        role = "dispatch fitted" if ep in (8, 256) else "held out"
        lines.append(f"| {ep} ({nodes}) | {dispatch} us | {got[0]:.1f} | {100 * (got[0] / dispatch - 1):+.0f} % | "
                     f"{combine} us | {got[1]:.1f} | {100 * (got[1] / combine - 1):+.0f} % | {role} |")
    return "\n".join(lines)


# ---- trace info on the learned 125M trace ------------------------------------------------------

def traceinfo(run):
    steps = ["--steps", "200"] if run.short else []
    run("trace", "generate", scenario("learned_gpt3_125m.yaml"), *steps, "--out", "t125.h5", record=False)
    out = run("trace", "info", "t125.h5", "--ep", "8").splitlines()
    start = next(i for i, line in enumerate(out) if line.startswith("  imbalance over training"))
    # The imbalance, the phase table's first six layers, and the two busiest experts.
    shown, layers, experts = [], 0, 0
    for line in out[start:]:
        if re.match(r"\s+\d+\s+[\d.e-]+\s", line):
            layers += 1
            if layers > 6:
                continue
        if line.startswith("    expert "):
            experts += 1
            if experts > 2:
                continue
        shown.append(line)
    return "```\n$ moesim trace info t125.h5 --ep 8\n  ...\n" + "\n".join(shown).rstrip() + "\n```"


# ---- Megatron-LM's token-imbalance workloads ----------------------------------------------------

WORKLOADS = ["balanced", "hot_expert_set", "hot_rank", "spread_hot_experts", "source_ragged", "zero_expert_rank",
             "rotating_hotspot", "burst"]
# NVIDIA/Megatron-LM pull request #7488, benchmarks/moe/token_imbalance/README.md: expert max/mean at
# EP 4, 8 experts, (128 tokens per rank, top-2) and (512, top-4).
WORKLOADS_PUBLISHED = {"balanced": (1.000, 1.000), "hot_expert_set": (3.312, 1.781), "hot_rank": (3.219, 1.770),
                       "spread_hot_experts": (1.281, 1.047), "source_ragged": (1.281, 1.086), "zero_expert_rank": (2.156, 2.000),
                       "rotating_hotspot": (3.312, 1.770), "burst": (1.219, 1.066)}


def workloads(run):
    base = scenario("workload_imbalance.yaml")
    lines = ["| workload | 128 tokens, top-2: published | moesim | expected | 512 tokens, top-4: published | moesim | expected | "
             "moesim step time, static (EP 4 H100, 128 tokens) |", "|---|---|---|---|---|---|---|---|"]
    for i, w in enumerate(WORKLOADS):
        cells = []
        for tokens, k in ((512, 2), (2048, 4)):
            out = run("trace", "generate", base, "--steps", "1", "--set", f"gating.workload={w}", "--set", f"training.tokens_per_step={tokens}",
                      "--set", f"model.top_k={k}", "--out", f"w{i}_{k}.h5")
            first = float(re.search(r"experts +\S+ +first ([0-9.]+)", out).group(1))
            cells.append(first)
        steps = "4" if run.short else "12"
        run("run", base, "--steps", steps, "-q", "--set", f"gating.workload={w}", "--set", "policies=[{placement: static}]", "--out", f"r{i}")
        step_ms = ms(run.rows(f"r{i}/summary.csv")[0])
        pub = WORKLOADS_PUBLISHED[w]
        expected = EXPECTED_FIRST[w]
        lines.append(f"| W{i} {w} | {pub[0]:.3f} | {cells[0]:.2f} | {expected[0]} | {pub[1]:.3f} | {cells[1]:.2f} | {expected[1]} | {step_ms} |")
    return "\n".join(lines)


# What each definition implies for the busiest expert's mean load over mean (before sampling noise
# at step 0), worked out in tests/sim/workload_source_test.cc.
EXPECTED_FIRST = {"balanced": ("1.000", "1.000"), "hot_expert_set": ("3.25", "1.75"), "hot_rank": ("3.25", "1.75"),
                  "spread_hot_experts": ("1.75", "1.75"), "source_ragged": ("1 + noise", "1 + noise"),
                  "zero_expert_rank": ("2 + noise", "2.000"), "rotating_hotspot": ("3.25", "1.75"), "burst": ("1 + noise", "1 + noise")}


# ---- the keys of the registry entries -----------------------------------------------------------

def keys(run):
    return run("presets", "--markdown").rstrip()


FIGURES = {"keys": keys, "bench": bench, "deepep": deepep, "quickstart": quickstart, "predictors": predictors, "gate": gate, "routing": routing, "placement": placement, "whatif": whatif, "traceinfo": traceinfo, "workloads": workloads}
BLOCK = re.compile(r"(<!-- figure (\w+)[^>]*-->\n)(.*?)(\n<!-- end figure \2 -->)", re.DOTALL)


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def blocks(readme):
    return {m.group(2): m.group(3) for m in BLOCK.finditer(readme)}


def render(moesim, name, short):
    with tempfile.TemporaryDirectory(prefix="moesim-figures-") as work:
        (pathlib.Path(work) / "results" / "runs").mkdir(parents=True)
        run = Runner(moesim, work, short)
        text = FIGURES[name](run)
        return text, sha("\n".join(run.transcript))


def main():
    mode, moesim = sys.argv[1], str(pathlib.Path(sys.argv[2]).resolve())
    only = sys.argv[3:] or list(FIGURES)
    readme = README.read_text()
    found = blocks(readme)
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    if mode == "update":
        for name in only:
            text, _ = render(moesim, name, short=False)
            _, short_sha = render(moesim, name, short=True)
            # Written figure by figure: a long update that fails keeps what it made.
            readme = README.read_text()
            readme = BLOCK.sub(lambda m: m.group(1) + text + m.group(4) if m.group(2) == name else m.group(0), readme)
            record[name] = {"readme": sha(text), "short_runs": short_sha}
            README.write_text(readme)
            RECORD.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
            print(f"figure {name}: updated", flush=True)
        return 0
    failures = []
    for name in only:
        if name not in found:
            failures.append(f"figure {name}: README.md has no block <!-- figure {name} --> ... <!-- end figure {name} -->")
            continue
        if name not in record:
            failures.append(f"figure {name}: not in {RECORD.relative_to(ROOT)}; run scripts/readme-figures.sh")
            continue
        if sha(found[name]) != record[name]["readme"]:
            failures.append(f"figure {name}: the README block was edited by hand; run scripts/readme-figures.sh {name}")
        _, short_sha = render(moesim, name, short=True)
        if short_sha != record[name]["short_runs"]:
            failures.append(f"figure {name}: moesim's output moved since the figure was made, so the README's numbers are stale; "
                            f"run scripts/readme-figures.sh {name} and commit README.md with the change")
    for f in failures:
        print(f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
