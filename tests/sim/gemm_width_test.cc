// The compute model's width term (sim/step/compute_model.h) and the GEMMs each kernel is made of
// (sim/step/gemm_shapes.h), checked by hand and against DeepGEMM's published H800 kernel figures.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hardware/presets.h"
#include "models/presets.h"
#include "sim/step/compute_model.h"
#include "sim/step/gemm_shapes.h"

namespace moesim {
namespace {

hardware::GpuSpec hopper() { return hardware::cluster_preset("h800-dgx")->gpu; }

TEST(GemmWidth, OneGemmHalvesAtTheHalfWidthInEachDimension) {
  hardware::GpuSpec gpu = hopper();
  gpu.gemm_half_width = 500;
  const GemmShape square{500, 500}, wide{500, 1e12};
  EXPECT_DOUBLE_EQ(width_factor(gpu, {&square, 1}), 0.25);
  EXPECT_NEAR(width_factor(gpu, {&wide, 1}), 0.5, 1e-9);
  gpu.gemm_half_width = 0;
  EXPECT_DOUBLE_EQ(width_factor(gpu, {&square, 1}), 1.0);
  EXPECT_DOUBLE_EQ(width_factor(gpu, {}), 1.0);
}

TEST(GemmWidth, AKernelOfSeveralGemmsTakesTheSumOfTheirTimes) {
  hardware::GpuSpec gpu = hopper();
  gpu.kernel_launch = Duration();
  const std::vector<GemmShape> gemms{{3072, 4096}, {4096, 1536}};
  const double rows = 8192;
  auto body = [&](double flops_per_row, double width) {
    return kernel_time(gpu, models::Dtype::kBf16, KernelWork{Flops(rows * flops_per_row), Bytes(0), rows, width}).seconds();
  };
  double separate = 0, flops = 0;
  for (const GemmShape& g : gemms) {
    separate += body(2 * g.cols * g.depth, width_factor(gpu, {&g, 1}));
    flops += 2 * g.cols * g.depth;
  }
  EXPECT_NEAR(body(flops, width_factor(gpu, gemms)), separate, 1e-11);  // durations are whole picoseconds
  // Narrower GEMMs reach less of the peak.
  const GemmShape narrow{768, 2048};
  EXPECT_LT(width_factor(gpu, {&narrow, 1}), width_factor(gpu, gemms));
}

double total(const std::vector<GemmShape>& gemms) {
  double sum = 0;
  for (const GemmShape& g : gemms) sum += g.cols * g.depth;
  return sum;
}

TEST(GemmShapes, TheirWeightsAreTheModelsParametersForEveryPreset) {
  for (const std::string name : {"qwen3-235b-a22b", "qwen3-30b-a3b", "deepseek-v3", "mixtral-8x22b", "gpt-oss-120b"}) {
    SCOPED_TRACE(name);
    const models::MoeModel m = *models::model_preset(name);
    const models::ParamCounts p = models::param_counts(m);
    const LayerGemms g = layer_gemms(m, 1, 1);
    EXPECT_DOUBLE_EQ(total(g.attention), p.attention_per_layer);
    EXPECT_DOUBLE_EQ(total(g.dense_ffn), p.dense_ffn_per_layer);
    EXPECT_DOUBLE_EQ(total(g.expert), p.expert);
    EXPECT_DOUBLE_EQ(total(g.shared_experts), p.shared_per_moe_layer);
    EXPECT_DOUBLE_EQ(g.gate.cols * g.gate.depth, p.gate_per_moe_layer);
  }
}

TEST(GemmShapes, TensorParallelismSplitsColumnParallelWidthsAndRowParallelDepths) {
  const models::MoeModel m = *models::model_preset("qwen3-235b-a22b");  // hidden 4096, 64 x 128 queries, 4 KV heads, experts 1536 wide
  const LayerGemms g = layer_gemms(m, 4, 2);
  ASSERT_EQ(g.attention.size(), 2u);
  EXPECT_DOUBLE_EQ(g.attention[0].cols, (8192 + 2 * 512) / 4.0);
  EXPECT_DOUBLE_EQ(g.attention[0].depth, 4096);
  EXPECT_DOUBLE_EQ(g.attention[1].cols, 4096);
  EXPECT_DOUBLE_EQ(g.attention[1].depth, 8192 / 4.0);
  ASSERT_EQ(g.expert.size(), 2u);
  EXPECT_DOUBLE_EQ(g.expert[0].cols, 2 * 1536 / 2.0);  // gate and up, fused, over ETP
  EXPECT_DOUBLE_EQ(g.expert[1].depth, 1536 / 2.0);
  EXPECT_DOUBLE_EQ(g.lm_head.cols, m.vocab / 4.0);
}

struct DeepGemmRow {
  double groups, m, n, k, tflops;
  std::string role;
};

std::vector<DeepGemmRow> deepgemm_rows() {
  std::ifstream in(std::string(MOESIM_SOURCE_DIR) + "/tests/sim/data/deepgemm_h800.csv");
  std::vector<DeepGemmRow> rows;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.starts_with("groups")) continue;
    std::istringstream fields(line);
    DeepGemmRow r;
    char comma;
    fields >> r.groups >> comma >> r.m >> comma >> r.n >> comma >> r.k >> comma >> r.tflops >> comma >> r.role;
    rows.push_back(r);
  }
  return rows;
}

// What moesim's model gives for one DeepGEMM row: FP8 inputs, BF16 output, launch not counted (the
// published figures are kernel times).
double model_tflops(hardware::GpuSpec gpu, const DeepGemmRow& r) {
  gpu.kernel_launch = Duration();
  const GemmShape shape{r.n, r.k};
  const KernelWork w{Flops(2 * r.m * r.n * r.k), Bytes(r.m * r.k + r.n * r.k + 2 * r.m * r.n), r.m, width_factor(gpu, {&shape, 1})};
  return w.flops.count() / kernel_time(gpu, models::Dtype::kFp8, w).seconds() / 1e12;
}

// The Hopper presets' half-points were fitted on the "fit" rows (scripts/gemm_shape_fit.py, which
// prints this kernel-level efficiency too); the held-out rows check them.
TEST(GemmShapes, TheirTrafficIsWeightsOnceAndEachRowsInputAndOutput) {
  // An FFN 3,000 wide on hidden 1,000, SwiGLU: gate and up (6,000 x 1,000), then down (1,000 x 3,000).
  const std::vector<GemmShape> ffn{{6000, 1000}, {1000, 3000}};
  const GemmTraffic bf16 = gemm_traffic(ffn, models::Dtype::kBf16);
  EXPECT_DOUBLE_EQ(bf16.weight_bytes, 2.0 * (6000 * 1000 + 1000 * 3000));
  EXPECT_DOUBLE_EQ(bf16.bytes_per_row, 2.0 * (1000 + 6000) + 2.0 * (3000 + 1000));
  EXPECT_DOUBLE_EQ(bf16.at(10).count(), bf16.weight_bytes + 10 * bf16.bytes_per_row);
  // FP8 GEMMs read FP8 weights and inputs, and write BF16 outputs.
  const GemmTraffic fp8 = gemm_traffic(ffn, models::Dtype::kFp8);
  EXPECT_DOUBLE_EQ(fp8.weight_bytes, bf16.weight_bytes / 2);
  EXPECT_DOUBLE_EQ(fp8.bytes_per_row, 1.0 * (1000 + 3000) + 2.0 * (6000 + 1000));
}

TEST(GemmShapes, AnExpertWithFewRowsIsPricedAtItsWeightsAndAnFp8OneReadsHalfOfThem) {
  // With one row, a routed expert of Qwen3-30B-A3B reads its 4.7 M weights and does next to no
  // arithmetic: HBM-bound once the small-GEMM penalty on rows (which the compute roof has) is off.
  hardware::GpuSpec gpu = hopper();
  gpu.gemm_half_rows = 0;
  models::MoeModel m = *models::model_preset("qwen3-30b-a3b");
  auto expert_time = [&](models::Dtype dtype) {
    m.dtype = dtype;
    const LayerGemms g = layer_gemms(m, 1, 1);
    const double flops = 2 * total(g.expert);
    return kernel_time(gpu, dtype, KernelWork{Flops(flops), gemm_traffic(g.expert, dtype).at(1), 1, width_factor(gpu, g.expert)}) -
           gpu.kernel_launch;
  };
  const double weights = 3.0 * 2048 * 768;
  const double hbm = gpu.hbm_bandwidth.bytes_per_second() * gpu.memory_efficiency;
  EXPECT_NEAR(expert_time(models::Dtype::kBf16).seconds(), (2 * weights + 2 * (2048 + 1536) + 2 * (768 + 2048)) / hbm, 1e-11);
  EXPECT_NEAR(expert_time(models::Dtype::kFp8).seconds(), (weights + (2048 + 768) + 2 * (1536 + 2048)) / hbm, 1e-11);
}

TEST(GemmWidth, HopperHalfPointsMatchDeepGemmsHeldOutKernels) {
  // The kernels' own efficiency and rows' half-point; the preset's are a whole training step's.
  hardware::GpuSpec gpu = hopper();
  gpu.gemm_efficiency = 0.85;
  gpu.gemm_half_rows = 128;
  const std::vector<DeepGemmRow> rows = deepgemm_rows();
  ASSERT_EQ(rows.size(), 28u);
  double held = 0;
  int held_rows = 0;
  for (const DeepGemmRow& r : rows) {
    if (r.role == "small") continue;
    const double error = model_tflops(gpu, r) / r.tflops - 1;
    SCOPED_TRACE(testing::Message() << r.groups << " x " << r.m << " x " << r.n << " x " << r.k << ": " << 100 * error << " %");
    EXPECT_LT(std::abs(error), 0.2);
    if (r.role == "held") held += std::abs(error), ++held_rows;
  }
  EXPECT_EQ(held_rows, 8);
  EXPECT_LT(held / held_rows, 0.06);
  // Without the width term no efficiency and half-rows fit them as well (the script's best: 0.56, 48).
  gpu.gemm_efficiency = 0.56;
  gpu.gemm_half_rows = 48;
  gpu.gemm_half_width = 0;
  double plain = 0;
  for (const DeepGemmRow& r : rows) {
    if (r.role == "held") plain += std::abs(model_tflops(gpu, r) / r.tflops - 1);
  }
  EXPECT_GT(plain / held_rows, 0.1);
}

}  // namespace
}  // namespace moesim
