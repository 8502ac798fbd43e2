#include "sim/step/compute_model.h"

#include <algorithm>

namespace moesim {
double gemm_efficiency(const hardware::GpuSpec& gpu, double rows) {
  if (rows <= 0) return 0;
  return gpu.gemm_efficiency * rows / (rows + gpu.gemm_half_rows);
}

double width_factor(const hardware::GpuSpec& gpu, std::span<const GemmShape> gemms) {
  const double half = gpu.gemm_half_width;
  double flops = 0, time = 0;
  for (const GemmShape& g : gemms) {
    const double f = g.cols * g.depth;
    if (f <= 0) continue;
    flops += f;
    time += f / (g.cols / (g.cols + half) * (g.depth / (g.depth + half)));
  }
  return time > 0 ? flops / time : 1.0;
}

FlopRate peak_rate(const hardware::GpuSpec& gpu, models::Dtype dtype) {
  return dtype == models::Dtype::kFp8 ? gpu.fp8_peak : gpu.bf16_peak;
}

namespace {
double body_seconds(const hardware::GpuSpec& gpu, models::Dtype dtype, const KernelWork& w) {
  if (w.flops.count() <= 0 && w.bytes.count() <= 0) return 0;
  const double compute =
      w.flops.count() > 0 ? w.flops.count() / (peak_rate(gpu, dtype).per_second() * gemm_efficiency(gpu, w.rows) * w.width) : 0.0;
  const double memory = w.bytes.count() / (gpu.hbm_bandwidth.bytes_per_second() * gpu.memory_efficiency);
  return std::max(compute, memory);
}

// A kernel's time from its launch (or its kernels' launches) and its body.
Duration launched(const hardware::GpuSpec& gpu, Duration launch, Duration body) {
  return gpu.launch_hidden ? std::max(launch, body) : launch + body;
}
}  // namespace

Duration kernel_time(const hardware::GpuSpec& gpu, models::Dtype dtype, const KernelWork& work) {
  return launched(gpu, gpu.kernel_launch, Seconds(body_seconds(gpu, dtype, work)));
}

Duration grouped_kernel_time(const hardware::GpuSpec& gpu, models::Dtype dtype, std::span<const KernelWork> groups) {
  double seconds = 0;
  bool any = false;
  for (const KernelWork& w : groups) {
    if (w.rows <= 0) continue;
    seconds += body_seconds(gpu, dtype, w);
    any = true;
  }
  return any ? launched(gpu, gpu.kernel_launch, Seconds(seconds)) : Duration();
}

const hardware::AttentionCurve& attention_curve(const hardware::GpuSpec& gpu, bool backward, bool causal) {
  const hardware::AttentionSpec& a = gpu.attention;
  const hardware::AttentionCurve& masked = backward ? a.backward : a.forward;
  const hardware::AttentionCurve& unmasked = backward ? a.unmasked_backward : a.unmasked_forward;
  return causal || unmasked.efficiency <= 0 ? masked : unmasked;
}

Duration attention_time(const hardware::GpuSpec& gpu, const KernelWork& work, double seq, double head_dim,
                        const hardware::AttentionCurve& curve) {
  if (curve.efficiency <= 0) return kernel_time(gpu, models::Dtype::kBf16, work);
  // The curve is its kernel's at head dimension 128; narrower heads do less work per load of a
  // tile (measured down to 64), wider ones are not measured and keep 128's.
  constexpr double kReference = 128;
  const double h = curve.half_head_dim, d = std::min(head_dim, kReference);
  const double width = h > 0 && d > 0 ? d / (d + h) * ((kReference + h) / kReference) : 1.0;
  const double efficiency = curve.efficiency * seq / (seq + curve.half_seq) * width;
  const double compute = work.flops.count() / (gpu.bf16_peak.per_second() * efficiency);
  const double memory = work.bytes.count() / (gpu.hbm_bandwidth.bytes_per_second() * gpu.memory_efficiency);
  return launched(gpu, gpu.kernel_launch, Seconds(std::max(compute, memory)));
}

Duration streaming_time(const hardware::GpuSpec& gpu, Bytes bytes) {
  return launched(gpu, gpu.kernel_launch, bytes / (gpu.hbm_bandwidth * gpu.memory_efficiency));
}

Duration elementwise_time(const hardware::GpuSpec& gpu, Bytes bytes, int kernels) {
  if (bytes.count() <= 0) return Duration();
  return launched(gpu, gpu.kernel_launch * kernels, bytes / (gpu.hbm_bandwidth * gpu.memory_efficiency));
}

}  // namespace moesim
