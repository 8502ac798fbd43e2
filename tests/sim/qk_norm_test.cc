// Qwen3's query-key norm (an RMSNorm on each head's query and key, before the rotary embedding):
// two memory-bound kernels each way, and the queries and keys before it kept for the backward pass.
#include <gtest/gtest.h>

#include "models/presets.h"
#include "scenarios/loader/loader.h"
#include "sim/network/network_model.h"
#include "sim/step/compute_model.h"
#include "sim/step/memory_model.h"
#include "sim/step/step_costs.h"

namespace moesim {
namespace {

// Qwen3-30B-A3B's layers (32 query heads and 4 key-value heads of 128) on one H100 node, TP 2,
// one sequence of 1,024 tokens per TP pair.
scenarios::Scenario qwen_layers(bool qk_norm) {
  return scenarios::load_scenario_text(
      "cluster: {preset: h100-dgx, nodes: 1}\nmodel: {preset: qwen3-30b-a3b, layers: 2}\n"
      "parallelism: {tp: 2, ep: 8}\ntraining: {global_batch: 4, micro_batch: 1, seq_len: 1024}\n",
      "qwen_layers.yaml", {std::string("model.qk_norm=") + (qk_norm ? "true" : "false")});
}

TEST(QueryKeyNorm, Qwen3HasItAndOthersDoNot) {
  EXPECT_TRUE(models::model_preset("qwen3-235b-a22b")->qk_norm);
  EXPECT_TRUE(models::model_preset("qwen3-30b-a3b")->qk_norm);
  EXPECT_FALSE(models::model_preset("mixtral-8x22b")->qk_norm);
  EXPECT_FALSE(models::model_preset("gpt-oss-120b")->qk_norm);
  EXPECT_FALSE(models::model_preset("deepseek-v3")->qk_norm);
}

TEST(QueryKeyNorm, ReadsAndWritesTheQueriesAndKeysEachWay) {
  const StepConfig with = scenarios::step_config(qwen_layers(true));
  const StepConfig without = scenarios::step_config(qwen_layers(false));
  auto network = network::make_network_model(with.cluster);
  const StepCosts a = step_costs(with, *network), b = step_costs(without, *network);
  // Each GPU's 512 rows (sequence parallelism), the 32 queries and 4 keys of 128 read and written
  // in BF16, in two kernels; the backward pass twice that.
  const double bytes = 512.0 * 2 * 2 * (32 + 4) * 128;
  const Duration norms = elementwise_time(with.cluster.gpu, Bytes(bytes), 2);
  EXPECT_NEAR((a.attention_fwd - b.attention_fwd).seconds(), norms.seconds(), 1e-12);
  EXPECT_NEAR((a.attention_bwd - b.attention_bwd).seconds(), 2 * norms.seconds(), 1e-12);
  EXPECT_EQ(a.attention_wgrad, b.attention_wgrad);
}

TEST(QueryKeyNorm, KeepsTheQueriesAndKeysBeforeIt) {
  const auto activations = [](bool qk_norm) {
    return gpu_memory(scenarios::step_config(qwen_layers(qk_norm))).stages[0].bytes_of("activations");
  };
  // Per token and layer, each GPU of the TP pair keeping half: the 32 queries and 4 keys of 128
  // before the norm (BF16) and an FP32 inverse RMS for each of those 36 heads.
  const double per_token_layer = 2.0 * (32 + 4) * 128 + 4.0 * (32 + 4);
  EXPECT_DOUBLE_EQ(activations(true) - activations(false), 1024.0 * 2 * per_token_layer / 2);
}

}  // namespace
}  // namespace moesim
