// gating.source workload (Megatron-LM's token-imbalance workloads W0-W7): each workload's mean
// expert loads over many steps are what its definition implies, worked out by hand for the
// benchmark's dispatch_only setting (8 experts, top-2, 128 tokens per rank); ranks and layers
// route alike; a step's routing depends on (workload, seed, step) alone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "models/gating/routing_matrix.h"
#include "scenarios/loader/loader.h"
#include "sim/runner.h"

namespace moesim {
namespace {

scenarios::Scenario scenario(const std::string& workload, int seed = 1234) {
  return scenarios::load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/workload_imbalance.yaml",
                                       {"gating.workload=" + workload, "seed=" + std::to_string(seed)});
}

// Mean assignments per expert of rank 0, layer 0 over `steps` steps taken `every` apart from `first`.
std::vector<double> mean_loads(const std::string& workload, int first, int every, int steps) {
  const auto s = scenario(workload);
  auto source = make_gating_source(s);
  gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts);
  std::vector<double> mean(s.model.experts, 0.0);
  for (int step = 0, taken = 0; taken < steps; ++step) {
    source->next(step, routing);
    if (step < first || (step - first) % every) continue;
    ++taken;
    for (int l = 0; l < routing.layers(); ++l)
      for (int r = 0; r < routing.ranks(); ++r) {
        EXPECT_TRUE(std::equal(routing.row(l, r).begin(), routing.row(l, r).end(), routing.row(0, 0).begin())) << workload;
      }
    int64_t total = 0;
    for (int e = 0; e < s.model.experts; ++e) {
      mean[e] += routing.row(0, 0)[e] / static_cast<double>(steps);
      total += routing.row(0, 0)[e];
    }
    EXPECT_EQ(total, 256) << workload;  // 128 tokens x top-2
  }
  return mean;
}

// Within 2 assignments of the expectation: a mean of 400 steps varies by about 0.25.
void expect_loads(const std::string& workload, const std::vector<double>& expected, int first = 0, int every = 1) {
  const auto got = mean_loads(workload, first, every, 400);
  for (size_t e = 0; e < expected.size(); ++e) EXPECT_NEAR(got[e], expected[e], 2.0) << workload << " expert " << e;
}

TEST(WorkloadSource, EachWorkloadsLoadsAreItsDefinitions) {
  // W0: round robin, exactly 32 each every step.
  const auto balanced = mean_loads("balanced", 0, 1, 3);
  for (double v : balanced) EXPECT_EQ(v, 32.0);
  // W1, W2: 3 tokens in 4 take the hot pair {0, 1} (96 each), every token 2 of 8 at random a
  // quarter of the time (8 each).
  const std::vector<double> hot = {104, 104, 8, 8, 8, 8, 8, 8};
  expect_loads("hot_expert_set", hot);
  expect_loads("hot_rank", hot);
  // W3: 3 in 4 take 2 of {0, 2, 4, 6} (48 each), plus 8 each.
  expect_loads("spread_hot_experts", {56, 8, 56, 8, 56, 8, 56, 8});
  expect_loads("source_ragged", std::vector<double>(8, 32));
  // W5: experts 4..7 take everything.
  expect_loads("zero_expert_rank", {0, 0, 0, 0, 64, 64, 64, 64});
  // W6: the hot pair moves by 2 every 3 steps: steps 3, 27, 51, ... have it on {2, 3}.
  expect_loads("rotating_hotspot", {8, 8, 104, 104, 8, 8, 8, 8}, 3, 12);
  // W7: every 4th step the even tokens take the hot pair (64 each) and the odd ones 2 of 8 (16
  // each); the other steps are uniform.
  expect_loads("burst", {80, 80, 16, 16, 16, 16, 16, 16}, 3, 4);
  expect_loads("burst", std::vector<double>(8, 32), 0, 4);
}

TEST(WorkloadSource, AStepDependsOnSeedAndStepOnly) {
  const auto routing_of = [](int seed, int step) {
    const auto s = scenario("source_ragged", seed);
    auto source = make_gating_source(s);
    gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts);
    for (int t = 0; t <= step; ++t) source->next(t, routing);
    return std::vector<int32_t>(routing.row(0, 0).begin(), routing.row(0, 0).end());
  };
  EXPECT_EQ(routing_of(1, 5), routing_of(1, 5));
  EXPECT_NE(routing_of(1, 5), routing_of(2, 5));
  EXPECT_NE(routing_of(1, 5), routing_of(1, 6));
}

TEST(WorkloadSource, BadKeysAreOneLineErrors) {
  try {
    scenario("hot");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("gating.workload"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moesim
