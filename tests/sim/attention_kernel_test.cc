#include <gtest/gtest.h>

#include "hardware/presets.h"
#include "models/presets.h"
#include "scenarios/loader/loader.h"
#include "sim/network/network_model.h"
#include "sim/step/compute_model.h"
#include "sim/step/step_costs.h"

namespace moesim {
namespace {

const hardware::GpuSpec h100 = hardware::cluster_preset("h100-dgx")->gpu;

Duration by_hand(const hardware::AttentionCurve& c, double flops, double seq) {
  return h100.kernel_launch + Seconds(flops / (989.4e12 * c.efficiency * seq / (seq + c.half_seq)));
}

TEST(AttentionKernel, EachPassRunsOnItsOwnCurveByHand) {
  // 1 TFLOP over sequences of 4,096 tokens: compute-bound, at efficiency * 4096 / (4096 + half).
  const KernelWork work{Flops(1e12), Bytes(1e6), 4096};
  for (const bool backward : {false, true}) {
    for (const bool causal : {false, true}) {
      const hardware::AttentionCurve& curve = attention_curve(h100, backward, causal);
      EXPECT_EQ(&curve, causal ? (backward ? &h100.attention.backward : &h100.attention.forward)
                               : (backward ? &h100.attention.unmasked_backward : &h100.attention.unmasked_forward));
      EXPECT_EQ(attention_time(h100, work, 4096, 128, curve), by_hand(curve, 1e12, 4096));
    }
  }
  // Longer sequences run nearer the top of a curve; the backward below the forward, the mask
  // below none.
  const auto at = [&](double seq, bool backward, bool causal) {
    return attention_time(h100, work, seq, 128, attention_curve(h100, backward, causal));
  };
  EXPECT_LT(at(16384, false, true), at(1024, false, true));
  EXPECT_GT(at(4096, true, true), at(4096, false, true));
  EXPECT_GT(at(4096, false, true), at(4096, false, false));
}

TEST(AttentionKernel, NarrowHeadsRunSlowerByHandAndWideOnesAsAt128) {
  const KernelWork work{Flops(1e12), Bytes(1e6), 4096};
  for (const bool backward : {false, true}) {
    const hardware::AttentionCurve& curve = attention_curve(h100, backward, true);
    const double h = curve.half_head_dim;
    ASSERT_GT(h, 0);
    // At 64 the rate is 64 / (64 + h) against 128's 128 / (128 + h): the compute part scales by the inverse.
    const Duration at_128 = attention_time(h100, work, 4096, 128, curve);
    const Duration at_64 = attention_time(h100, work, 4096, 64, curve);
    const double slower = (128 / (128 + h)) / (64 / (64 + h));
    EXPECT_NEAR((at_64 - h100.kernel_launch).seconds(), (at_128 - h100.kernel_launch).seconds() * slower, 1e-12);
    EXPECT_EQ(attention_time(h100, work, 4096, 192, curve), at_128);
  }
  // Without a head-dimension term every width runs at the curve's rate.
  hardware::GpuSpec flat = h100;
  flat.attention.forward.half_head_dim = 0;
  EXPECT_EQ(attention_time(flat, work, 4096, 64, flat.attention.forward), attention_time(flat, work, 4096, 128, flat.attention.forward));
}

TEST(AttentionKernel, WithoutCurvesItIsPricedAsAGemmOverItsRows) {
  hardware::GpuSpec gpu = h100;
  gpu.attention = {};
  const KernelWork work{Flops(1e12), Bytes(1e6), 4096};
  EXPECT_EQ(attention_time(gpu, work, 4096, 128, attention_curve(gpu, false, true)), kernel_time(gpu, models::Dtype::kBf16, work));
  // Without an unmasked curve, the unmasked blocks run on the causal one.
  gpu.attention.forward = h100.attention.forward;
  EXPECT_EQ(&attention_curve(gpu, false, false), &gpu.attention.forward);
}

TEST(AttentionKernel, ContextParallelismsRingRunsOneCausalStepAndTheRestUnmasked) {
  // CP 4 on a 32k sequence: a rank's 8,192 tokens meet the keys in 4 steps, one over its own
  // chunks (causal) and 3 over other ranks' (whole): a quarter of the core's FLOPs on the causal
  // curve, three quarters on the unmasked one, each a kernel over 8,192 tokens.
  const auto s = scenarios::load_scenario_text(R"(
cluster: {preset: h100-dgx, nodes: 4}
model: {preset: qwen3-30b-a3b, layers: 2}
parallelism: {cp: 4, ep: 8}
training: {global_batch: 8, micro_batch: 1, seq_len: 32768}
gating: {source: balanced}
)",
                                               "cp.yaml");
  const StepConfig config = step_config(s);
  auto network = network::make_network_model(config.cluster);
  const StepCosts costs = step_costs(config, *network);
  const double flops = models::token_flops(s.model, 32768).attention_core.count() * 8192;
  const auto ring = [&](double scale, bool backward) {
    return by_hand(attention_curve(h100, backward, true), flops * scale / 4, 8192) +
           by_hand(attention_curve(h100, backward, false), flops * scale * 3 / 4, 8192);
  };
  // The core is the part of the attention task that is not its projections' GEMMs or memory-bound
  // kernels: the forward task less its backward's non-core part halved.
  const Duration forward_core = costs.attention_fwd - (costs.attention_bwd - ring(2.5, true)) * 0.5;
  EXPECT_NEAR(forward_core.seconds(), ring(1, false).seconds(), 1e-9);
}

TEST(AttentionKernel, DeepSeekV3sMlaAgainstItsOwnTrainingProfile) {
  // deepseek-ai/profile-data (train.json @4496024, H800, EP64, one 4,096-token sequence a
  // micro-batch, 4 layers a chunk): FlashAttention-3's MLA kernels (query and key 192 wide, value
  // 128, 128 heads) take 1.237 ms a layer forward (compute_attn_ws, mean of 4) and 4.254 ms
  // backward (FlashAttnBwd 3.779, its preprocess 0.256 and postprocess 0.219). Held out: the
  // curves were fitted on cuDNN's head-dimension-128 figures alone (scripts/attention_fit.py).
  const hardware::GpuSpec h800 = hardware::cluster_preset("h800-dgx")->gpu;
  const models::MoeModel m = *models::model_preset("deepseek-v3");
  const double tokens = 4096;
  const KernelWork work{models::token_flops(m, 4096).attention_core * tokens, Bytes(0), tokens};
  const double forward = attention_time(h800, work, 4096, 128, attention_curve(h800, false, true)) / Milliseconds(1);
  const double backward =
      attention_time(h800, KernelWork{work.flops * 2.5, work.bytes, tokens}, 4096, 128, attention_curve(h800, true, true)) /
      Milliseconds(1);
  EXPECT_NEAR(forward, 1.237, 1.237 * 0.1);
  EXPECT_NEAR(backward, 4.254, 4.254 * 0.1);
}

}  // namespace
}  // namespace moesim
