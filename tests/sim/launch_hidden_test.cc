// cluster.gpu.launch_hidden: each kernel takes the longer of its launch and its own time instead
// of the two added, so a step's costs shrink by the launches hidden under longer kernels and no
// more.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "scenarios/loader/loader.h"
#include "sim/network/network_model.h"
#include "sim/step/step_costs.h"

namespace moesim {
namespace {

// Qwen3-30B-A3B's layers on one H100 node, TP 2, one sequence of 1,024 tokens per TP pair, each
// launch costing `launch`.
StepCosts qwen_costs(bool hidden, const std::string& launch) {
  const StepConfig config = scenarios::step_config(scenarios::load_scenario_text(
      "cluster: {preset: h100-dgx, nodes: 1}\nmodel: {preset: qwen3-30b-a3b, layers: 2}\n"
      "parallelism: {tp: 2, ep: 8}\ntraining: {global_batch: 4, micro_batch: 1, seq_len: 1024}\n",
      "qwen_layers.yaml",
      {std::string("cluster.gpu.launch_hidden=") + (hidden ? "true" : "false"), "cluster.gpu.kernel_launch=" + launch}));
  auto network = network::make_network_model(config.cluster);
  return step_costs(config, *network);
}

TEST(LaunchHidden, SavesPartOfEachLaunchNeverMoreThanTheBodies) {
  const StepCosts added = qwen_costs(false, "50us"), hidden = qwen_costs(true, "50us");
  const StepCosts bare = qwen_costs(false, "0us");
  for (const auto& [name, a, h, b] : {std::tuple{"attention forward", added.attention_fwd, hidden.attention_fwd, bare.attention_fwd},
                                      std::tuple{"attention backward", added.attention_bwd, hidden.attention_bwd, bare.attention_bwd},
                                      std::tuple{"router forward", added.gate_fwd, hidden.gate_fwd, bare.gate_fwd},
                                      std::tuple{"LM head", added.lm_head, hidden.lm_head, bare.lm_head}}) {
    SCOPED_TRACE(name);
    // Per kernel, the launch L and the body B cost max(L, B) against L + B: hiding saves
    // min(L, B), so something, never more than the bodies (the costs without launches), and leaves
    // at least the bodies and one launch.
    EXPECT_LT(h, a);
    EXPECT_LE(a - h, b);
    EXPECT_GE(h, b);
    EXPECT_GE(h, Microseconds(50));
  }
}

TEST(LaunchHidden, WithoutALaunchCostTheTwoAgree) {
  const StepCosts added = qwen_costs(false, "0us"), hidden = qwen_costs(true, "0us");
  EXPECT_EQ(added.attention_fwd, hidden.attention_fwd);
  EXPECT_EQ(added.attention_bwd, hidden.attention_bwd);
  EXPECT_EQ(added.gate_fwd, hidden.gate_fwd);
  EXPECT_EQ(added.lm_head, hidden.lm_head);
}

}  // namespace
}  // namespace moesim
