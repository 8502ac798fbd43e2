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
  // Mixtral-8x7B: 46.7B parameters (Mixtral paper); DeepSeek-V3: 671B (technical report).
  // Differences: untied embeddings, norms and MLA projections are not counted.
  EXPECT_NEAR(param_counts(*model_preset("mixtral-8x7b")).total / 46.7e9, 1.0, 0.01);
  EXPECT_NEAR(param_counts(*model_preset("deepseek-v3")).total / 671e9, 1.0, 0.02);
  const MoeModel dsv3 = *model_preset("deepseek-v3");
  EXPECT_EQ(dsv3.experts, 256);
  EXPECT_EQ(dsv3.shared_experts, 1);
  EXPECT_EQ(dsv3.top_k, 8);
  EXPECT_EQ(dsv3.moe_layer_count(), 58);
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
