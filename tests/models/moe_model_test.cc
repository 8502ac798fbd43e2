#include "models/moe_model.h"

#include <gtest/gtest.h>

#include "models/presets.h"

namespace moesim::models {
namespace {

TEST(MoeModel, Gpt3MoeModelsHaveMoeInEveryOtherLayer) {
  const MoeModel small = *model_preset("gpt3-125m-moe");
  EXPECT_EQ(small.moe_layer_count(), 6);
  EXPECT_EQ(small.moe_layer_indices().front(), 1);
  EXPECT_EQ(small.experts, 16);
  const MoeModel medium = *model_preset("gpt3-350m-moe");
  EXPECT_EQ(medium.moe_layer_count(), 12);
  EXPECT_EQ(medium.experts, 128);
  EXPECT_EQ(medium.hidden, 1024);
  EXPECT_EQ(medium.top_k, 1);
}

TEST(MoeModel, Gpt3350mParameterCountsByHand) {
  const ParamCounts p = param_counts(*model_preset("gpt3-350m-moe"));
  EXPECT_DOUBLE_EQ(p.attention_per_layer, 4.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(p.expert, 2.0 * 1024 * 4096);
  EXPECT_DOUBLE_EQ(p.dense_total, 24 * 4.0 * 1024 * 1024 + 12 * 2.0 * 1024 * 4096 + 12 * 1024.0 * 128 + 50257.0 * 1024);
}

TEST(MoeModel, PublishedTotalsAreReproduced) {
  // Mixtral-8x7B: 46.7B parameters (Mixtral paper); DeepSeek-V3: 671B in the main model and 685B
  // with its multi-token prediction module (technical report, model card), which shares the
  // embedding and the LM head (counted once here). Differences: norms are not counted.
  EXPECT_NEAR(param_counts(*model_preset("mixtral-8x7b")).total / 46.7e9, 1.0, 0.01);
  MoeModel dsv3 = *model_preset("deepseek-v3");
  EXPECT_NEAR(param_counts(dsv3).total / 685e9, 1.0, 0.02);
  EXPECT_EQ(dsv3.experts, 256);
  EXPECT_EQ(dsv3.shared_experts, 1);
  EXPECT_EQ(dsv3.top_k, 8);
  EXPECT_EQ(dsv3.moe_layer_count(), 59);  // 58 and the prediction module's
  dsv3.mtp_layers = 0;
  EXPECT_NEAR(param_counts(dsv3).total / 671e9, 1.0, 0.02);
  EXPECT_EQ(dsv3.moe_layer_count(), 58);
  // gpt-oss (model card): 116.8B and 20.9B parameters, the attention's biases and sinks included,
  // which are not counted here.
  EXPECT_NEAR(param_counts(*model_preset("gpt-oss-120b")).total / 116.8e9, 1.0, 0.01);
  EXPECT_NEAR(param_counts(*model_preset("gpt-oss-20b")).total / 20.9e9, 1.0, 0.02);
  // Kimi K2 (model card): a trillion parameters, 384 experts in 60 MoE layers.
  const MoeModel kimi = *model_preset("kimi-k2");
  EXPECT_NEAR(param_counts(kimi).total / 1e12, 1.0, 0.03);
  EXPECT_EQ(kimi.moe_layer_count(), 60);
}

// A prediction module adds one layer built as the last one, its 2·hidden -> hidden projection
// and one more LM head pass to the model FLOPs (Megatron's num_floating_point_operations).
TEST(MoeModel, PredictionModuleAddsALayerAProjectionAndAnLmHeadPass) {
  MoeModel with = *model_preset("deepseek-v3");
  MoeModel without = with;
  without.mtp_layers = 0;
  const TokenFlops f = token_flops(with, 4096);
  const double h = with.hidden;
  const double layer = (f.attention_projections + f.attention_core + f.gate + f.expert * with.top_k + f.shared_experts).count();
  EXPECT_DOUBLE_EQ(f.mtp_projection.count(), 2 * 2 * h * h);
  EXPECT_NEAR(training_flops_per_token(with, 4096).count() - training_flops_per_token(without, 4096).count(),
              3 * (layer + 4 * h * h + f.lm_head.count()), 1e-6 * training_flops_per_token(with, 4096).count());
  EXPECT_TRUE(with.is_moe_layer(61));
  EXPECT_TRUE(with.is_mtp_layer(61));
  EXPECT_FALSE(with.is_mtp_layer(60));
}

TEST(MoeModel, FlopsPerTokenAreTwicePerWeight) {
  const MoeModel m = *model_preset("gpt3-350m-moe");
  const TokenFlops f = token_flops(m, 2048);
  EXPECT_DOUBLE_EQ(f.expert.count(), 2 * 2.0 * 1024 * 4096);
  EXPECT_DOUBLE_EQ(f.attention_core.count(), 2.0 * 2048 * 1024);  // causal: half of 4*s*h
  EXPECT_DOUBLE_EQ(f.gate.count(), 2.0 * 1024 * 128);
}

TEST(MoeModel, ExpertStateIsWeightsGradientsAndAdam) {
  const MoeModel m = *model_preset("gpt3-350m-moe");
  EXPECT_DOUBLE_EQ(expert_state_bytes(m).count(), 2.0 * 1024 * 4096 * 16);
}

}  // namespace
}  // namespace moesim::models
