// What gpt-oss's experts cost beyond a fused SwiGLU's: their halves clamped and concatenated again
// before the activation where the framework runs the clamps apart (model.glu_clamp,
// training.glu_clamp), and their biases where it adds them after the grouped GEMM
// (training.expert_bias_add apart), as HBM-bound bytes per routed token and kept activations.
#include <gtest/gtest.h>

#include "models/presets.h"
#include "scenarios/loader/loader.h"
#include "sim/network/network_model.h"
#include "sim/step/memory_model.h"
#include "sim/step/step_costs.h"

namespace moesim {
namespace {

// gpt-oss-120b's layers on one H100 node, one sequence of 4,096 tokens per GPU.
StepCosts costs(const std::vector<std::string>& overrides) {
  const scenarios::Scenario s = scenarios::load_scenario_text(
      "cluster: {preset: h100-dgx, nodes: 1}\nmodel: {preset: gpt-oss-120b, layers: 2}\n"
      "parallelism: {ep: 8}\ntraining: {global_batch: 8, micro_batch: 1, seq_len: 4096}\n",
      "gpt_oss_layers.yaml", overrides);
  const StepConfig c = scenarios::step_config(s);
  auto network = network::make_network_model(c.cluster);
  return step_costs(c, *network);
}

constexpr double kBf16 = 2;
constexpr double kWidth = 2880;  // gpt-oss-120b's hidden size and expert width alike

TEST(GluClamp, TheClampsAndTheirConcatenationMoveSixMoreWidthsAsForwardBytesInThreeKernels) {
  const StepCosts clamped = costs({}), plain = costs({"model.glu_clamp=0"});
  // 18 widths forward and backward, a third of them as forward bytes (the backward twice those).
  EXPECT_DOUBLE_EQ((clamped.expert_elementwise_bytes - plain.expert_elementwise_bytes).count(), 6 * kWidth * kBf16);
  EXPECT_EQ(clamped.expert_elementwise_kernels, plain.expert_elementwise_kernels + 3);
  EXPECT_EQ(plain.expert_elementwise_kernels, 3);  // permute, the fused activation, unpermute
  // Without a gate there is nothing to clamp.
  models::MoeModel m = *models::model_preset("gpt-oss-120b");
  m.gated_ffn = false;
  const models::ElementwiseBytes with = models::elementwise_bytes(m, true);
  m.glu_clamp = 0;
  EXPECT_EQ(with.expert, models::elementwise_bytes(m, true).expert);
  EXPECT_EQ(with.expert_kernels, 3);
  // Clamped inside a compiled activation, they cost what the plain one does.
  const StepCosts fused = costs({"training.glu_clamp=fused"});
  EXPECT_EQ(fused.expert_elementwise_bytes, plain.expert_elementwise_bytes);
  EXPECT_EQ(fused.expert_elementwise_kernels, plain.expert_elementwise_kernels);
}

TEST(GluClamp, RecomputingTheActivationClampsAndConcatenatesAgain) {
  const std::vector<std::string> recompute = {"parallelism.recompute=selective", "parallelism.recompute_modules=[moe_act]"};
  std::vector<std::string> plain = recompute;
  plain.push_back("model.glu_clamp=0");
  const StepCosts a = costs(recompute), b = costs(plain);
  EXPECT_DOUBLE_EQ((a.expert_recompute_bytes - b.expert_recompute_bytes).count(), 8 * kWidth * kBf16);
  EXPECT_EQ(a.expert_recompute_kernels, b.expert_recompute_kernels + 3);
}

// Apart, the clamps keep their input (the first GEMM's output, kept anyway) and the activation the
// clamped copy besides: both halves in BF16 per routed token, unless moe_act recomputes them.
TEST(GluClamp, ClampsApartKeepTheClampedCopyForTheBackwardPass) {
  const auto activations = [](const std::vector<std::string>& overrides) {
    const scenarios::Scenario s = scenarios::load_scenario_text(
        "cluster: {preset: h100-dgx, nodes: 1}\nmodel: {preset: gpt-oss-120b, layers: 2}\n"
        "parallelism: {ep: 8}\ntraining: {global_batch: 8, micro_batch: 1, seq_len: 4096}\n",
        "gpt_oss_layers.yaml", overrides);
    return gpu_memory(scenarios::step_config(s)).stages[0].bytes_of("activations");
  };
  const double tokens = 4096, layers = 2, top_k = 4;
  EXPECT_DOUBLE_EQ(activations({}) - activations({"training.glu_clamp=fused"}), tokens * layers * top_k * 2 * 2 * kWidth);
  const std::vector<std::string> recompute = {"parallelism.recompute=selective", "parallelism.recompute_modules=[moe_act]"};
  std::vector<std::string> fused = recompute;
  fused.push_back("training.glu_clamp=fused");
  EXPECT_DOUBLE_EQ(activations(recompute), activations(fused));
}

TEST(ExpertBias, AddedApartItMovesSevenWidthsOfTheFirstGemmsOutputAndEightOfTheSecondsAsForwardBytes) {
  const StepCosts in_gemm = costs({}), apart = costs({"training.expert_bias_add=apart"});
  // The first GEMM's output is both halves of the gated FFN wide; the second's, the hidden size.
  EXPECT_DOUBLE_EQ((apart.expert_elementwise_bytes - in_gemm.expert_elementwise_bytes).count(), (7 * 2 * kWidth + 8 * kWidth) / 3 * kBf16);
  // Two concatenations and an add per GEMM for each of the GPU's 128 / 8 experts.
  EXPECT_EQ(apart.expert_elementwise_kernels, in_gemm.expert_elementwise_kernels + 2 + 2 * 16);
  // A model without biases pays nothing wherever they would be added.
  EXPECT_EQ(costs({"model.expert_bias=false", "training.expert_bias_add=apart"}).expert_elementwise_bytes,
            costs({"model.expert_bias=false"}).expert_elementwise_bytes);
}

}  // namespace
}  // namespace moesim
