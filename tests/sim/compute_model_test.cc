#include "sim/step/compute_model.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "hardware/presets.h"

namespace moesim {
namespace {

const hardware::GpuSpec h100 = hardware::cluster_preset("h100-dgx")->gpu;

TEST(ComputeModel, EfficiencyIsHalfAtHalfRows) {
  EXPECT_DOUBLE_EQ(gemm_efficiency(h100, h100.gemm_half_rows), h100.gemm_efficiency / 2);
  EXPECT_DOUBLE_EQ(gemm_efficiency(h100, 0), 0);
  EXPECT_LT(gemm_efficiency(h100, 64), gemm_efficiency(h100, 4096));
}

TEST(ComputeModel, LargeGemmIsComputeBoundByHand) {
  // 16384 x 1024 x 4096 BF16 GEMM: 2*16384*1024*4096 FLOPs at 989.4 TFLOP/s * eff * 16384/16640.
  const double rows = 16384;
  const KernelWork w{Flops(2.0 * rows * 1024 * 4096), Bytes(2.0 * 1024 * 4096 + rows * (1024 + 4096) * 2), rows};
  const double seconds = w.flops.count() / (989.4e12 * h100.gemm_efficiency * rows / (rows + h100.gemm_half_rows));
  EXPECT_EQ(kernel_time(h100, models::Dtype::kBf16, w), Microseconds(4) + Seconds(seconds));
}

TEST(ComputeModel, FewTokensAreNotFreeTheyReadTheWeights) {
  // One token through a 1024x4096 expert: the weights (8 MiB in BF16) must still be read.
  const KernelWork w{Flops(2.0 * 1024 * 4096), Bytes(2.0 * 1024 * 4096), 1};
  const Duration t = kernel_time(h100, models::Dtype::kBf16, w);
  EXPECT_GE(t, Microseconds(4) + Bytes(2.0 * 1024 * 4096) / (h100.hbm_bandwidth * h100.memory_efficiency));
  // ...and per token it is far more expensive than a large batch.
  const KernelWork big{Flops(2.0 * 1024 * 4096 * 8192), Bytes(2.0 * 1024 * 4096 + 8192 * 10240.0), 8192};
  EXPECT_GT(t.seconds(), kernel_time(h100, models::Dtype::kBf16, big).seconds() / 8192 * 50);
}

TEST(ComputeModel, GroupedGemmPaysOneLaunchAndSkipsEmptyGroups) {
  const KernelWork a{Flops(1e12), Bytes(1e6), 4096};
  const KernelWork empty{Flops(0), Bytes(8e6), 0};
  const std::vector<KernelWork> groups{a, empty, a};
  const Duration one = kernel_time(h100, models::Dtype::kBf16, a) - h100.kernel_launch;
  // Each group's time is rounded to the picosecond once, so the sum may differ from twice one by 1 ps.
  const Duration grouped = grouped_kernel_time(h100, models::Dtype::kBf16, groups);
  EXPECT_LE(std::abs((grouped - (h100.kernel_launch + one * 2)).picoseconds()), 1);
  EXPECT_EQ(grouped_kernel_time(h100, models::Dtype::kBf16, std::vector<KernelWork>{empty}), Duration());
}

TEST(ComputeModel, Fp8UsesTheFp8Peak) {
  const KernelWork w{Flops(1e13), Bytes(1), 1e6};
  const Duration bf16 = kernel_time(h100, models::Dtype::kBf16, w) - h100.kernel_launch;
  const Duration fp8 = kernel_time(h100, models::Dtype::kFp8, w) - h100.kernel_launch;
  EXPECT_NEAR(bf16 / fp8, 1978.9 / 989.4, 1e-6);
}

TEST(ComputeModel, AHiddenLaunchShowsOnlyBehindAShorterKernel) {
  hardware::GpuSpec added = h100;
  added.kernel_launch = Microseconds(100);
  added.gemm_efficiency = 0.575;  // the curve set here, not the preset's fit
  added.gemm_half_rows = 768;
  hardware::GpuSpec hidden = added;
  hidden.launch_hidden = true;
  // A GEMM of 2e12 FLOPs at 989.4 TFLOP/s * 0.575 * 16384 / (16384 + 768): 3.69 ms, far longer than its launch.
  const double rows = 16384;
  const KernelWork large{Flops(2e12), Bytes(1), rows};
  const Duration body = kernel_time(hidden, models::Dtype::kBf16, large);
  EXPECT_NEAR(body.seconds(), 2e12 / (989.4e12 * 0.575 * rows / (rows + 768)), 1e-9);
  EXPECT_EQ(kernel_time(added, models::Dtype::kBf16, large), Microseconds(100) + body);
  // One token's GEMM reads 8 MiB of weights in about 3 us: the GPU waits on the launch.
  const KernelWork small{Flops(2.0 * 1024 * 4096), Bytes(2.0 * 1024 * 4096), 1};
  EXPECT_EQ(kernel_time(hidden, models::Dtype::kBf16, small), Microseconds(100));
  EXPECT_GT(kernel_time(added, models::Dtype::kBf16, small), Microseconds(102));
  // Three norms streaming 1.7 GB together (0.6 ms) hide their three launches; 1.7 MB does not.
  const Duration streamed = Bytes(1.7e9) / (hidden.hbm_bandwidth * hidden.memory_efficiency);
  EXPECT_EQ(elementwise_time(hidden, Bytes(1.7e9), 3), streamed);
  EXPECT_EQ(elementwise_time(added, Bytes(1.7e9), 3), Microseconds(300) + streamed);
  EXPECT_EQ(elementwise_time(hidden, Bytes(1.7e6), 3), Microseconds(300));
  EXPECT_EQ(streaming_time(hidden, Bytes(1.7e6)), Microseconds(100));
  const std::vector<KernelWork> groups{small, small};
  EXPECT_EQ(grouped_kernel_time(hidden, models::Dtype::kBf16, groups), Microseconds(100));
}

}  // namespace
}  // namespace moesim
