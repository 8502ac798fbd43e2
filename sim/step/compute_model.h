// Time of GPU kernels from FLOPs and bytes: a roofline whose compute roof drops for small GEMMs,
// so that an expert with few tokens is not free (it still reads its weights and pays a launch),
// an expert with many tokens is the straggler, and a narrow expert (fine-grained MoE) or a
// tensor-parallel slice reaches less of the peak than a wide dense layer.
//
//   time = launch + max(flops / (peak * eff),  bytes / (hbm * memory_efficiency))
//          (with cluster.gpu.launch_hidden, the longer of the launch and that max)
//   eff  = gemm_efficiency * m / (m + gemm_half_rows) * width
//   width of one GEMM = n / (n + gemm_half_width) * k / (k + gemm_half_width)
//
// m is the GEMM's token rows, n its output width and k its reduction depth, per GPU. A kernel of
// several GEMMs over the same rows takes the FLOP-weighted harmonic mean of their widths, so its
// time is exactly the sum of theirs. Backward GEMMs are priced at the forward's efficiency: the
// input gradient's shape is the forward's with n and k swapped, which the width term does not
// tell apart.
#pragma once

#include <span>

#include "hardware/specs.h"
#include "models/moe_model.h"

namespace moesim {

// One GEMM of a kernel, per GPU: its output width (N) and reduction depth (K).
struct GemmShape {
  double cols = 0;
  double depth = 0;
};

struct KernelWork {
  Flops flops;
  Bytes bytes;
  double rows = 0;     // tokens (GEMM M dimension)
  double width = 1.0;  // width_factor() of its GEMMs
};

// gemm_efficiency * m / (m + gemm_half_rows): the efficiency before the width term.
double gemm_efficiency(const hardware::GpuSpec& gpu, double rows);
// The width term of a kernel made of `gemms` over the same rows; 1 where the GPU has none
// (gemm_half_width 0) or there are no GEMMs.
double width_factor(const hardware::GpuSpec& gpu, std::span<const GemmShape> gemms);
FlopRate peak_rate(const hardware::GpuSpec& gpu, models::Dtype dtype);

// One kernel, including its launch.
Duration kernel_time(const hardware::GpuSpec& gpu, models::Dtype dtype, const KernelWork& work);
// A grouped GEMM: one launch, then each group at its own efficiency (empty groups are skipped).
Duration grouped_kernel_time(const hardware::GpuSpec& gpu, models::Dtype dtype, std::span<const KernelWork> groups);
// The GPU's attention curve for a forward or backward kernel, with the causal mask or without (the
// causal one where the GPU has no unmasked curve).
const hardware::AttentionCurve& attention_curve(const hardware::GpuSpec& gpu, bool backward, bool causal);
// An attention kernel (work.flops as FlashAttention counts them) over sequences of `seq` tokens
// and heads `head_dim` wide, in BF16, on `curve`; without one (zero efficiency), kernel_time()
// prices it as a GEMM over work.rows.
Duration attention_time(const hardware::GpuSpec& gpu, const KernelWork& work, double seq, double head_dim,
                        const hardware::AttentionCurve& curve);
// A memory-bound kernel streaming `bytes` (optimizer step).
Duration streaming_time(const hardware::GpuSpec& gpu, Bytes bytes);
// `kernels` memory-bound kernels streaming `bytes` together (norms, activations, casts); with
// launch_hidden, the longer of their launches and their streaming, as if each were alike.
Duration elementwise_time(const hardware::GpuSpec& gpu, Bytes bytes, int kernels);

}  // namespace moesim
