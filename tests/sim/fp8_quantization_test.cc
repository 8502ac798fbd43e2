// What FP8 training's casts cost: each GEMM's input quantized forward and its output gradient
// backward, in two layouts, with a read for the maximum first under the tensorwise recipe; the
// activations between GEMMs stay BF16.
#include <gtest/gtest.h>

#include "scenarios/loader/loader.h"
#include "sim/network/network_model.h"
#include "sim/step/compute_model.h"
#include "sim/step/step_costs.h"

namespace moesim {
namespace {

// Qwen3-30B-A3B's layers (GQA, gated experts of 768) on one H100 node, one sequence of 4,096
// tokens per GPU.
scenarios::Scenario qwen_layers(const std::vector<std::string>& overrides) {
  return scenarios::load_scenario_text(
      "cluster: {preset: h100-dgx, nodes: 1}\nmodel: {preset: qwen3-30b-a3b, layers: 2}\n"
      "parallelism: {ep: 8}\ntraining: {global_batch: 8, micro_batch: 1, seq_len: 4096}\n",
      "qwen_layers.yaml", overrides);
}

StepCosts costs(const std::vector<std::string>& overrides) {
  const StepConfig c = scenarios::step_config(qwen_layers(overrides));
  auto network = network::make_network_model(c.cluster);
  return step_costs(c, *network);
}

// What FlashAttention's core takes backward beyond twice its forward: its backward computes the
// scores again, 2.5 times the forward's FLOPs (in BF16 under either recipe), in seconds.
double core_beyond_twice(const StepConfig& c) {
  const models::MoeModel& m = c.model;
  const double rows = 4096, bytes = rows * 2.0 * (m.query_dim() + m.key_value_dim()) * 2;
  const Flops flops = models::token_flops(m, c.seq_len).attention_core * rows;
  const hardware::GpuSpec& gpu = c.cluster.gpu;
  const double seq = c.seq_len;  // one CP rank: the whole sequence, under the causal mask
  return attention_time(gpu, KernelWork{flops * 2.5, Bytes(bytes * 2.5), rows}, seq, 128, attention_curve(gpu, true, true)).seconds() -
         2 * attention_time(gpu, KernelWork{flops, Bytes(bytes), rows}, seq, 128, attention_curve(gpu, false, true)).seconds();
}

TEST(Fp8Quantization, EachRecipeMovesWhatItsKernelsRead) {
  models::MoeModel m = qwen_layers({}).model;
  EXPECT_EQ(models::fp8_quantization(m).bytes_per_element, 0);  // BF16: nothing to quantize
  m.dtype = models::Dtype::kFp8;
  // Read BF16 (2), write both FP8 layouts (1 + 1); tensorwise reads it once more for its maximum,
  // in a kernel of its own, and a third computes the scale.
  EXPECT_EQ(models::fp8_quantization(m).bytes_per_element, 6);
  EXPECT_EQ(models::fp8_quantization(m).kernels_per_tensor, 3);
  for (models::Fp8Recipe r : {models::Fp8Recipe::kDelayed, models::Fp8Recipe::kBlockwise}) {
    m.fp8_recipe = r;
    EXPECT_EQ(models::fp8_quantization(m).bytes_per_element, 4) << models::to_string(r);
    EXPECT_EQ(models::fp8_quantization(m).kernels_per_tensor, 1) << models::to_string(r);
  }
}

TEST(Fp8Quantization, ActivationsBetweenGemmsStayBf16) {
  models::MoeModel bf16 = qwen_layers({}).model, fp8 = bf16;
  fp8.dtype = models::Dtype::kFp8;
  const models::ElementwiseBytes a = models::elementwise_bytes(bf16, true), b = models::elementwise_bytes(fp8, true);
  EXPECT_EQ(a.attention, b.attention);
  EXPECT_EQ(a.dense_ffn, b.dense_ffn);
  EXPECT_EQ(a.router, b.router);
  EXPECT_EQ(a.expert, b.expert);
}

TEST(Fp8Quantization, ForwardCastsEachGemmsInputAndBackwardEachOutputGradient) {
  const StepCosts bf16 = costs({});
  const double core = core_beyond_twice(scenarios::step_config(qwen_layers({})));
  EXPECT_GT(core, 0.0);
  EXPECT_NEAR(bf16.attention_bwd.seconds(), (bf16.attention_fwd * 2).seconds() + core, 2e-12);
  EXPECT_EQ(bf16.expert_quantize_forward, Bytes(0));

  const models::MoeModel m = qwen_layers({}).model;
  const StepConfig config = scenarios::step_config(qwen_layers({"model.dtype=fp8"}));
  const hardware::GpuSpec& gpu = config.cluster.gpu;
  const StepCosts tensorwise = costs({"model.dtype=fp8"});
  const StepCosts delayed = costs({"model.dtype=fp8", "model.fp8_recipe=delayed"});
  const StepCosts blockwise = costs({"model.dtype=fp8", "model.fp8_recipe=blockwise"});
  EXPECT_EQ(blockwise.attention_fwd, delayed.attention_fwd);
  EXPECT_EQ(blockwise.attention_bwd, delayed.attention_bwd);

  // The tensorwise recipe's extra read of 2 bytes per element, and its two extra kernels for each
  // of the attention's two GEMMs: the fused QKV projection (input: hidden; output: queries, keys
  // and values) and the output projection (input: the heads' values; output: hidden).
  const double rows = 4096, h = m.hidden;
  const double per_byte = 1.0 / (gpu.hbm_bandwidth.bytes_per_second() * gpu.memory_efficiency);
  const double launches = 2 * 2 * gpu.kernel_launch.seconds();
  const double inputs = h + m.value_dim(), outputs = m.query_dim() + m.key_value_dim() + h;
  EXPECT_NEAR((tensorwise.attention_fwd - delayed.attention_fwd).seconds(), 2 * rows * inputs * per_byte + launches, 2e-12);
  EXPECT_NEAR((tensorwise.attention_bwd - delayed.attention_bwd).seconds(), 2 * rows * outputs * per_byte + launches, 2e-12);
  // Backward is twice the forward's GEMMs and other kernels (FlashAttention's core 2.5 times), with
  // the output gradients' casts (4 bytes an element, one kernel a GEMM) in place of the inputs'.
  const auto cast = [&](double elements) { return 4 * rows * elements * per_byte + 2 * gpu.kernel_launch.seconds(); };
  EXPECT_NEAR((delayed.attention_bwd - (delayed.attention_fwd * 2)).seconds(), cast(outputs) - 2 * cast(inputs) + core, 4e-12);

  // A routed expert's row: gate and up together (768 x 2 out of hidden), then down (768 in).
  const double expert_in = h + m.expert_ffn_hidden, expert_out = 2.0 * m.expert_ffn_hidden + h;
  EXPECT_DOUBLE_EQ(delayed.expert_quantize_forward.count(), 4 * expert_in);
  EXPECT_DOUBLE_EQ(delayed.expert_quantize_backward.count(), 4 * expert_out);
  EXPECT_DOUBLE_EQ(tensorwise.expert_quantize_backward.count(), 6 * expert_out);
  EXPECT_EQ(tensorwise.expert_quantize_kernels, 6);
  EXPECT_EQ(delayed.expert_quantize_kernels, 2);
}

// Recomputing MLA's up-projections in the backward pass quantizes their latent inputs again.
TEST(Fp8Quantization, RecomputedUpProjectionsQuantizeTheirLatentsAgain) {
  const auto recompute = [](const char* recipe) {
    const StepConfig c = scenarios::step_config(scenarios::load_scenario_text(
        "cluster: {preset: h800-dgx, nodes: 1}\nmodel: {preset: deepseek-v3, layers: 2, mtp_layers: 0, first_moe_layer: 1}\n"
        "parallelism: {ep: 8, recompute: selective, recompute_modules: [mla_up_proj]}\n"
        "training: {global_batch: 8, micro_batch: 1, seq_len: 4096}\n",
        "deepseek_layers.yaml", {std::string("model.fp8_recipe=") + recipe}));
    auto network = network::make_network_model(c.cluster);
    return std::pair{step_costs(c, *network).attention_recompute, c.cluster.gpu};
  };
  const auto [tensorwise, gpu] = recompute("tensorwise");
  const models::MlaSpec mla;  // DeepSeek-V3's ranks are the defaults
  const double latents = 4096.0 * (mla.q_lora_rank + mla.kv_lora_rank);
  const double per_byte = 1.0 / (gpu.hbm_bandwidth.bytes_per_second() * gpu.memory_efficiency);
  EXPECT_NEAR((tensorwise - recompute("blockwise").first).seconds(), 2 * latents * per_byte + 2 * 2 * gpu.kernel_launch.seconds(), 2e-12);
}

}  // namespace
}  // namespace moesim
