// Megatron's selective recompute modules and DeepSeek-V3's caches (SwiGLU's inputs in FP8, the
// attention output in E5M6): what each takes out of the activations kept for the backward pass,
// and what recomputing or casting costs.
#include <gtest/gtest.h>

#include "scenarios/loader/loader.h"
#include "sim/network/network_model.h"
#include "sim/step/compute_model.h"
#include "sim/step/memory_model.h"
#include "sim/step/step_costs.h"
#include "tests/sim/first_layer_traffic.h"

namespace moesim {
namespace {

// DeepSeek-V3's layers (MLA, FP8, a dense layer then an MoE layer with one shared expert) on 8
// GPUs, one sequence of 4,096 tokens per GPU.
scenarios::Scenario deepseek_layers(const std::vector<std::string>& overrides) {
  return scenarios::load_scenario_text(
      "cluster: {preset: h800-dgx, nodes: 1}\nmodel: {preset: deepseek-v3, layers: 2, mtp_layers: 0, first_moe_layer: 1}\n"
      "parallelism: {ep: 8, recompute: selective}\ntraining: {global_batch: 8, micro_batch: 1, seq_len: 4096}\n",
      "deepseek_layers.yaml", overrides);
}

StepCosts costs(const std::vector<std::string>& overrides) {
  const StepConfig c = scenarios::step_config(deepseek_layers(overrides));
  auto network = network::make_network_model(c.cluster);
  return step_costs(c, *network);
}

double activations(const scenarios::Scenario& s) { return gpu_memory(scenarios::step_config(s)).stages[0].bytes_of("activations"); }

TEST(Recompute, TheModulesDropWhatTheyRecompute) {
  const models::MoeModel m = deepseek_layers({}).model;
  const double tokens = 4096, layers = 2;
  const double plain = activations(deepseek_layers({}));  // core_attn, layernorm, moe_act
  // Without core_attn FlashAttention's BF16 output and log-sum-exp stay; with mla_up_proj the
  // BF16 queries, keys and values go, and so do the latent norms' outputs (the up-projections'
  // FP8 inputs, inside the checkpoint with them), the latents staying.
  const double up = activations(deepseek_layers({"parallelism.recompute_modules=[layernorm, moe_act, mla_up_proj]"}));
  EXPECT_DOUBLE_EQ(up - plain, tokens * layers *
                                   (2.0 * m.value_dim() + 4.0 * m.heads - 2.0 * (m.query_dim() + m.key_value_dim()) -
                                    1.0 * (m.mla.q_lora_rank + m.mla.kv_lora_rank)));
  // Without moe_act the 8 routed experts' activation outputs stay, in FP8 (the dense FFN and the
  // shared expert keep theirs either way).
  const double kept_activation = activations(deepseek_layers({"parallelism.recompute_modules=[core_attn, layernorm]"}));
  EXPECT_DOUBLE_EQ(kept_activation - plain, tokens * 8 * 1.0 * m.expert_ffn_hidden);
  // SwiGLU's inputs (gate and up, twice the width) in FP8 instead of BF16: one byte less each.
  const double fp8 = activations(deepseek_layers({"training.activation_func_fp8_input_store=true"}));
  EXPECT_DOUBLE_EQ(plain - fp8, tokens * (2.0 * m.ffn_hidden + (1 + 8) * 2.0 * m.expert_ffn_hidden));
}

// Megatron's checkpointed attention core keeps its inputs (the queries, keys and values) and the
// output projection keeps its own input, so with FlashAttention core_attn frees only what
// FlashAttention saves for itself: the softmax's log-sum-exp (FP32, one a head) and, where the
// output projection keeps an FP8 copy of the attention output, FlashAttention's BF16 one.
TEST(Recompute, CoreAttentionFreesOnlyWhatFlashAttentionKeepsForItself) {
  const double tokens = 4096, layers = 2;
  for (const std::string dtype : {"bf16", "fp8"}) {
    SCOPED_TRACE(dtype);
    const auto with = [&](const std::string& modules) {
      return activations(deepseek_layers({"model.dtype=" + dtype, "parallelism.recompute_modules=[" + modules + "]"}));
    };
    const models::MoeModel m = deepseek_layers({"model.dtype=" + dtype}).model;
    const double flash_output = dtype == "fp8" ? 2.0 * m.value_dim() : 0.0;
    EXPECT_DOUBLE_EQ(with("layernorm") - with("layernorm, core_attn"), tokens * layers * (flash_output + 4.0 * m.heads));
  }
}

// Megatron's layernorm recomputes only a norm that stands alone: Transformer Engine fuses the
// norm before a grouped-query attention's QKV projection and before a dense FFN into that GEMM
// (LayerNormLinear), which keeps the norm's output. MLA's input norm and an MoE layer's stand
// alone, and their outputs (each GEMM's input, FP8 here) go.
TEST(Recompute, LayernormDropsTheOutputsOfTheNormsThatStandAlone) {
  const double tokens = 4096, h_mla = deepseek_layers({}).model.hidden;
  const double mla = activations(deepseek_layers({"parallelism.recompute_modules=[core_attn, moe_act]"})) -
                     activations(deepseek_layers({"parallelism.recompute_modules=[core_attn, layernorm, moe_act]"}));
  // Both layers' attention norms and the MoE layer's; not the dense FFN's.
  EXPECT_DOUBLE_EQ(mla, tokens * 3 * 1.0 * h_mla);
  const auto qwen = [](const std::string& modules) {
    return scenarios::load_scenario_text(
        "cluster: {preset: h100-dgx, nodes: 1}\nmodel: {preset: qwen3-30b-a3b, layers: 2, dtype: bf16}\n"
        "parallelism: {ep: 8, recompute: selective, recompute_modules: [" +
            modules + "]}\ntraining: {global_batch: 8, micro_batch: 1, seq_len: 4096}\n",
        "qwen_layers.yaml");
  };
  const double h_gqa = qwen("core_attn").model.hidden;
  // Two MoE layers: their pre-FFN norms only (BF16).
  EXPECT_DOUBLE_EQ(activations(qwen("core_attn")) - activations(qwen("core_attn, layernorm")), tokens * 2 * 2.0 * h_gqa);
}

// moe_act runs the routed experts' activation again before their backward (reading the gate and
// up projections, writing the output, BF16) and casts its output again for the second GEMM's
// weight gradient under FP8: per row on a GPU. A dense FFN recomputes nothing under it.
TEST(Recompute, MoeActivationCostsTheRoutedExpertsActivationAgain) {
  const models::MoeModel m = deepseek_layers({}).model;
  const StepCosts with = costs({"parallelism.recompute_modules=[moe_act]"});
  const StepCosts without = costs({"parallelism.recompute_modules=[core_attn]"});
  const double inner = m.expert_ffn_hidden;  // ETP 1
  const models::Fp8Quantization fp8 = models::fp8_quantization(m);
  EXPECT_DOUBLE_EQ(with.expert_recompute_bytes.count(), 3 * inner * 2 + fp8.bytes_per_element * inner);
  EXPECT_EQ(with.expert_recompute_kernels, 1 + fp8.kernels_per_tensor);
  EXPECT_EQ(without.expert_recompute_kernels, 0);
  EXPECT_EQ(with.dense_ffn_recompute, Duration());
  // Each GPU's experts' backward takes it over the rows they received.
  const LayerTraffic recomputed = first_layer_traffic(deepseek_layers({"parallelism.recompute_modules=[moe_act]"}));
  const LayerTraffic kept = first_layer_traffic(deepseek_layers({"parallelism.recompute_modules=[core_attn]"}));
  const hardware::GpuSpec gpu = deepseek_layers({}).cluster.gpu;
  for (size_t g = 0; g < 8; ++g) {
    ASSERT_GT(recomputed.rows[g], 0.0);
    EXPECT_EQ(recomputed.experts_backward[g] - kept.experts_backward[g],
              elementwise_time(gpu, with.expert_recompute_bytes * recomputed.rows[g], with.expert_recompute_kernels));
    EXPECT_EQ(recomputed.experts_forward[g], kept.experts_forward[g]);
  }
}

// DeepSeek-V3 keeps the attention output once, in 12-bit E5M6, for FlashAttention's backward and
// the output projection's weight gradient, where Transformer Engine keeps the projection's FP8
// input and, unless core_attn recomputes it, FlashAttention's BF16 output.
TEST(Recompute, E5m6AttentionOutputIsOneCopyForBothBackwardPasses) {
  const models::MoeModel m = deepseek_layers({}).model;
  const double tokens = 4096, layers = 2, v = m.value_dim();
  const auto kept = [&](const std::string& modules, bool e5m6) {
    return activations(deepseek_layers(
        {"parallelism.recompute_modules=[" + modules + "]", std::string("training.attention_output_e5m6=") + (e5m6 ? "true" : "false")}));
  };
  // FP8 copy (1 byte) and FlashAttention's BF16 output (2) against one E5M6 copy (1.5).
  EXPECT_DOUBLE_EQ(kept("layernorm", false) - kept("layernorm", true), tokens * layers * (1.0 + 2.0 - 1.5) * v);
  // core_attn already drops FlashAttention's copy: the FP8 one against the E5M6 one.
  EXPECT_DOUBLE_EQ(kept("layernorm, core_attn", true) - kept("layernorm, core_attn", false), tokens * layers * (1.5 - 1.0) * v);
  // A cast to E5M6 forward (BF16 read, 1.5 bytes written) and back backward, one kernel each.
  const StepCosts plain = costs({}), e5m6 = costs({"training.attention_output_e5m6=true"});
  const Duration cast = elementwise_time(deepseek_layers({}).cluster.gpu, Bytes(tokens * 3.5 * v), 1);
  EXPECT_EQ(e5m6.attention_fwd - plain.attention_fwd, cast);
  EXPECT_EQ(e5m6.attention_bwd - plain.attention_bwd, cast);
}

// Megatron's checkpointed modules keep only their input; the one whose backward runs holds its
// recomputed activations meanwhile, so with one micro-batch in flight a stage saves all but the
// largest such layer's. DeepSeek-V3's layers here: `dense` dense layers, then `moe` MoE layers.
scenarios::Scenario deepseek_stack(int dense, int moe, const std::string& modules) {
  return deepseek_layers({"model.layers=" + std::to_string(dense + moe), "model.first_moe_layer=" + std::to_string(dense),
                          "cluster.gpu.hbm_capacity=1000GB", "parallelism.recompute_modules=[" + modules + "]"});
}

TEST(Recompute, CheckpointedModulesKeepTheirInputAndOneLayerAtATime) {
  const models::MoeModel m = deepseek_layers({}).model;
  const double tokens = 4096, h = m.hidden, w = m.expert_ffn_hidden;
  const double fp8 = 1.0;  // the GEMMs' inputs under DeepSeek-V3's FP8 recipe
  // A routed expert keeps its dispatched input and SwiGLU's two BF16 inputs (moe_act drops the
  // output); a shared expert the two inputs and its second GEMM's input.
  const double routed = fp8 * h + 2.0 * 2 * w, shared = 2.0 * 2 * w + fp8 * w;
  const std::string base = "core_attn, layernorm, moe_act";
  // moe: the router's FP32 logits, the routed and the shared experts go; the layer keeps the
  // norm's input (its output is dropped by layernorm either way). Three MoE layers, one held.
  EXPECT_DOUBLE_EQ(activations(deepseek_stack(1, 3, base)) - activations(deepseek_stack(1, 3, base + ", moe")),
                   tokens * 2 * (4.0 * m.experts + m.top_k * routed + m.shared_experts * shared));
  // Without layernorm the checkpoint keeps the norm's output in BF16, where the GEMMs kept FP8.
  EXPECT_DOUBLE_EQ(activations(deepseek_stack(1, 3, "core_attn, moe_act")) - activations(deepseek_stack(1, 3, "core_attn, moe_act, moe")),
                   tokens * 2 * (4.0 * m.experts + m.top_k * routed + m.shared_experts * shared + fp8 * h - 2.0 * h));
  // shared_experts: the shared expert's activations only.
  EXPECT_DOUBLE_EQ(activations(deepseek_stack(1, 3, base)) - activations(deepseek_stack(1, 3, base + ", shared_experts")),
                   tokens * 2 * m.shared_experts * shared);
  // mlp: a dense FFN keeps its input, which is its fused norm's: the norm's FP8 output and the
  // FFN's activations go. Two dense layers, one held.
  const double dense = fp8 * h + 2.0 * 2 * m.ffn_hidden + fp8 * m.ffn_hidden;
  EXPECT_DOUBLE_EQ(activations(deepseek_stack(2, 1, base)) - activations(deepseek_stack(2, 1, base + ", mlp")), tokens * 1 * dense);
  // One layer of a kind: the one being recomputed holds what it dropped, and nothing is saved.
  EXPECT_DOUBLE_EQ(activations(deepseek_stack(1, 1, base)), activations(deepseek_stack(1, 1, base + ", moe")));
}

TEST(Recompute, CheckpointedModulesRunTheirForwardAgain) {
  const StepCosts plain = costs({"parallelism.recompute_modules=[core_attn]"});
  const StepCosts mlp = costs({"parallelism.recompute_modules=[core_attn, mlp]"});
  const StepCosts moe = costs({"parallelism.recompute_modules=[core_attn, moe]"});
  const StepCosts shared = costs({"parallelism.recompute_modules=[core_attn, shared_experts]"});
  const StepCosts both = costs({"parallelism.recompute_modules=[core_attn, moe, shared_experts]"});
  EXPECT_EQ(mlp.dense_ffn_recompute, plain.dense_ffn_recompute + plain.dense_ffn_fwd);
  EXPECT_EQ(mlp.moe_recompute, plain.moe_recompute);
  // The router and the shared experts; the routed experts' forward is added to their backward.
  EXPECT_EQ(moe.moe_recompute, plain.moe_recompute + plain.gate_fwd + plain.shared_fwd);
  EXPECT_EQ(shared.moe_recompute, plain.moe_recompute + plain.shared_fwd);
  // Nested, as Megatron runs them: the layer's recompute runs the shared experts once more, and
  // their own checkpoint again in their backward.
  EXPECT_EQ(both.moe_recompute, plain.moe_recompute + plain.gate_fwd + plain.shared_fwd * 2);
  EXPECT_EQ(moe.attention_recompute, plain.attention_recompute);
  const LayerTraffic rerun = first_layer_traffic(deepseek_layers({"parallelism.recompute_modules=[moe]"}));
  const LayerTraffic kept = first_layer_traffic(deepseek_layers({"parallelism.recompute_modules=[core_attn]"}));
  EXPECT_EQ(rerun.experts_forward, kept.experts_forward);
}

TEST(Recompute, MlaUpProjectionsCostTheirGemmsAgain) {
  const StepCosts plain = costs({"parallelism.recompute_modules=[layernorm, moe_act]"});
  const StepCosts up = costs({"parallelism.recompute_modules=[layernorm, moe_act, mla_up_proj]"});
  const StepCosts none = costs({"parallelism.recompute=none"});
  // The up-projections are two of the attention's five GEMMs, 29 % of its projection FLOPs
  // (1,536 x 24,576 and 512 x 32,768 of the 187 M weights a token multiplies).
  const Duration extra = up.attention_recompute - plain.attention_recompute;
  EXPECT_GT(extra, Duration());
  EXPECT_LT(extra, plain.attention_wgrad);
  EXPECT_GT(extra.seconds(), 0.2 * plain.attention_wgrad.seconds());
  // Nothing else recomputes more, and without recomputation nothing recomputes.
  EXPECT_EQ(up.dense_ffn_recompute, plain.dense_ffn_recompute);
  EXPECT_EQ(up.moe_recompute, plain.moe_recompute);
  EXPECT_EQ(none.attention_recompute, Duration());
}

}  // namespace
}  // namespace moesim
