#!/usr/bin/env python3
"""Measure, on a GPU machine with PyTorch, the kernels moesim's compute model prices: BF16 GEMMs
at the expert shapes of the model presets (forward, input gradient, weight gradient; one GEMM and
grouped over a GPU's local experts), and the fused attention core (cuDNN through PyTorch's
scaled_dot_product_attention; FlashAttention's kernel beside it) at head dims 64 and 128. Nothing
here runs in the test suite (no GPU there): the CSV it writes is data, read by the scripts and tests
that compare moesim with it.

  kernel_measure.py OUTDIR      writes OUTDIR/gemm.csv and OUTDIR/attention.csv
"""
import csv
import pathlib
import sys

import torch
import torch.nn.functional as F

# Expert FFN shapes of the presets (hidden, moe_ffn, local experts at the published rows' EP):
# gated projections are one GEMM of width 2 * ffn, then ffn -> hidden.
MODELS = {
    "qwen3-30b-a3b": (2048, 768, 16),
    "qwen3-235b-a22b": (4096, 1536, 4),
    "gpt-oss-120b": (2880, 2880, 16),
    "mixtral-8x7b": (4096, 14336, 1),
    "mixtral-8x22b": (6144, 16384, 1),
    "deepseek-v3": (7168, 2048, 4),
}
ROWS = [128, 256, 512, 1024, 2048, 4096, 8192, 16384]


def time_ms(fn, reps=20, graph=True):
    """Milliseconds a call, from a CUDA graph of `reps` calls replayed (no Python launch overhead,
    which is tens of microseconds a call and would hide small kernels), or eagerly (the attention
    core, whose backward's autograd does not capture, and whose calls take 0.1 ms and more)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm-up: the library picks its kernel and workspace
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    if graph:
        captured = torch.cuda.CUDAGraph()
        with torch.cuda.graph(captured):
            for _ in range(reps):
                fn()
        captured.replay()
        torch.cuda.synchronize()
        start.record()
        for _ in range(3):
            captured.replay()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / (3 * reps), "graph"
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps, "eager"


def gemm_rows(out):
    # The three GEMMs of one projection, (m, n, k) as moesim counts them: forward x[m,k] w[k,n];
    # input gradient dy[m,n] w^T[n,k]; weight gradient x^T[k,m] dy[m,n], whose inner dim is m.
    def passes(m, n, k):
        return {"forward": (m, n, k), "dgrad": (m, k, n), "wgrad": (k, n, m)}

    writer = csv.writer(out)
    writer.writerow(["model", "projection", "pass", "groups", "m", "n", "k", "ms", "tflops", "timing"])
    for model, (hidden, ffn, local) in MODELS.items():
        for projection, (n, k) in {"up": (2 * ffn, hidden), "down": (hidden, ffn)}.items():
            for rows in ROWS:
                for name, (m, nn, kk) in passes(rows, n, k).items():
                    a = torch.randn(m, kk, device="cuda", dtype=torch.bfloat16)
                    b = torch.randn(kk, nn, device="cuda", dtype=torch.bfloat16)
                    ms, timing = time_ms(lambda: torch.matmul(a, b))
                    writer.writerow([model, projection, name, 1, m, nn, kk, f"{ms:.5f}", f"{2 * m * nn * kk / ms / 1e9:.1f}", timing])
                # The GPU's local experts in one grouped GEMM (forward), rows each.
                if local > 1 and hasattr(torch, "_grouped_mm"):
                    a = torch.randn(local * rows, k, device="cuda", dtype=torch.bfloat16)
                    b = torch.randn(local, n, k, device="cuda", dtype=torch.bfloat16).transpose(-2, -1)
                    offs = torch.arange(rows, local * rows + 1, rows, device="cuda", dtype=torch.int32)
                    try:
                        ms, timing = time_ms(lambda: torch._grouped_mm(a, b, offs=offs))
                        writer.writerow([model, projection, "forward", local, rows, n, k, f"{ms:.5f}",
                                         f"{2 * local * rows * n * k / ms / 1e9:.1f}", timing])
                    except RuntimeError as error:
                        print(f"grouped GEMM {model} {projection} {rows}: {error}", file=sys.stderr)
            out.flush()


def attention_rows(out):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    writer = csv.writer(out)
    writer.writerow(["backend", "head_dim", "causal", "seq", "pass", "ms", "tflops", "timing"])
    tokens, hidden = 16384, 2048  # FlashAttention-3's setup: batch x seq = 16k tokens, 16 heads at d 128
    for backend in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION):
        for head_dim in (64, 128):
            heads = hidden // head_dim
            for seq in (512, 1024, 2048, 4096, 8192, 16384):
                batch = tokens // seq
                for causal in (True, False):
                    q, k, v = (torch.randn(batch, heads, seq, head_dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)
                               for _ in range(3))
                    flops = 4 * batch * heads * seq * seq * head_dim / (2 if causal else 1)
                    try:
                        with sdpa_kernel(backend):
                            o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                            grad = torch.randn_like(o)
                            fwd, timing = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal), graph=False)
                            both, timing_both = time_ms(lambda: torch.autograd.grad(
                                F.scaled_dot_product_attention(q, k, v, is_causal=causal), (q, k, v), grad), graph=False)
                    except RuntimeError as error:
                        print(f"attention {backend} d{head_dim} s{seq}: {error}", file=sys.stderr)
                        continue
                    bwd = both - fwd
                    for name, ms, f, how in (("forward", fwd, flops, timing), ("backward", bwd, 2.5 * flops, timing_both)):
                        writer.writerow([backend.name.lower(), head_dim, int(causal), seq, name, f"{ms:.5f}", f"{f / ms / 1e9:.1f}", how])
            out.flush()


def main():
    outdir = pathlib.Path(sys.argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    print(torch.cuda.get_device_name(0), torch.__version__, file=sys.stderr)
    with open(outdir / "attention.csv", "w", newline="") as out:
        attention_rows(out)
    with open(outdir / "gemm.csv", "w", newline="") as out:
        gemm_rows(out)


if __name__ == "__main__":
    main()
