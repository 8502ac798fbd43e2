// Time of GPU kernels from FLOPs and bytes: a roofline whose compute roof drops for small token
// counts, so that an expert with few tokens is not free (it still reads its weights and pays a
// launch) and an expert with many tokens is the straggler.
//
//   time = launch + max(flops / (peak * eff(rows)),  bytes / (hbm * memory_efficiency))
//   eff(rows) = gemm_efficiency * rows / (rows + gemm_half_rows)
#pragma once

#include <span>

#include "hardware/specs.h"
#include "models/moe_model.h"

namespace moesim {

struct KernelWork {
  Flops flops;
  Bytes bytes;
  double rows = 0;  // tokens (GEMM M dimension)
};

double gemm_efficiency(const hardware::GpuSpec& gpu, double rows);
FlopRate peak_rate(const hardware::GpuSpec& gpu, models::Dtype dtype);

// One kernel, including its launch.
Duration kernel_time(const hardware::GpuSpec& gpu, models::Dtype dtype, const KernelWork& work);
// A grouped GEMM: one launch, then each group at its own efficiency (empty groups are skipped).
Duration grouped_kernel_time(const hardware::GpuSpec& gpu, models::Dtype dtype, std::span<const KernelWork> groups);
// A memory-bound kernel streaming `bytes` (optimizer step).
Duration streaming_time(const hardware::GpuSpec& gpu, Bytes bytes);
// `kernels` memory-bound kernels streaming `bytes` together (norms, activations, casts).
Duration elementwise_time(const hardware::GpuSpec& gpu, Bytes bytes, int kernels);

}  // namespace moesim
