// Which GPU holds which coordinate (Megatron's order, packed or spread EP groups) and how layers
// split over virtual stages.
#include <gtest/gtest.h>

#include "policies/placement/static_placement.h"
#include "scenarios/loader/loader.h"
#include "sim/runner.h"
#include "sim/step/parallel_layout.h"
#include "sim/step/step_simulator.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

TEST(ParallelLayout, MegatronOrderTensorInnermostThenContextDataPipeline) {
  Parallelism p;
  p.tp = 2, p.pp = 2, p.dp = 4, p.ep = 4;
  const ParallelLayout layout(p);
  EXPECT_EQ(layout.gpus(), 16);
  EXPECT_EQ(layout.stage_of(9), 1);
  EXPECT_EQ(layout.tp_group(3), (std::vector<int>{2, 3}));
  EXPECT_EQ(layout.dense_dp_group(1), (std::vector<int>{1, 3, 5, 7}));
  // MoE layers fold onto a stage's 8 GPUs: EP groups of 4 consecutive GPUs, 2 of them.
  EXPECT_EQ(layout.ep_groups(), 2);
  EXPECT_EQ(layout.ep_group(1, 1), (std::vector<int>{12, 13, 14, 15}));
  EXPECT_EQ(layout.expert_dp_group(0, 1), (std::vector<int>{1, 5}));
  const RankCoordinates c = layout.coordinates(13);
  EXPECT_EQ(c.pp, 1);
  EXPECT_EQ(c.tp, 1);
  EXPECT_EQ(c.dp, 2);
  EXPECT_EQ(c.ep, 1);
  EXPECT_EQ(c.edp, 1);
}

TEST(ParallelLayout, SpreadEpGroupsStrideOverTheStageAndKeepEachExpertsReplicasTogether) {
  Parallelism p;
  p.dp = 16, p.ep = 4, p.ep_layout = EpLayout::kSpread;
  const ParallelLayout spread(p);
  EXPECT_EQ(spread.ep_groups(), 4);
  EXPECT_EQ(spread.ep_group(0, 0), (std::vector<int>{0, 4, 8, 12}));
  EXPECT_EQ(spread.ep_group(0, 3), (std::vector<int>{3, 7, 11, 15}));
  EXPECT_EQ(spread.expert_dp_group(0, 1), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(spread.coordinates(6).ep, 1);
  EXPECT_EQ(spread.coordinates(6).edp, 2);
  EXPECT_EQ(spread.ep_ranks_per_node(8), 2);  // GPUs 0 and 4 of 8 share node 0
  p.ep_layout = EpLayout::kPacked;
  const ParallelLayout packed(p);
  EXPECT_EQ(packed.ep_group(0, 1), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(packed.expert_dp_group(0, 1), (std::vector<int>{1, 5, 9, 13}));
  EXPECT_EQ(packed.ep_ranks_per_node(8), 4);
  EXPECT_EQ(packed.ep_ranks_per_node(2), 2);
}

TEST(ParallelLayout, SpreadingEpGroupsTakesTheirAllToAllsAcrossNodes) {
  // 4 nodes x 8 H100, EP 8 of a 32-GPU stage: packed, an EP group is a node; spread, it has two
  // GPUs on each of the 4 nodes, and the routing view's ranks follow its GPUs.
  auto run = [](const char* layout) {
    const scenarios::Scenario s = scenarios::load_scenario_text(
        std::string("cluster: {preset: h100-dgx, nodes: 4}\nmodel: {preset: qwen3-30b-a3b, layers: 4}\n"
                    "parallelism: {ep: 8, ep_layout: ") +
            layout + "}\ntraining: {global_batch: 32, micro_batch: 1, seq_len: 4096}\ngating: {source: balanced}\n",
        "layout.yaml");
    const auto placement =
        policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
    const gating::RoutingView view = routing_view(s, placement);
    StepSimulator sim(step_config(s));
    return std::pair{view.node_of_rank, simulate_step(s, sim)};
  };
  const auto [packed_nodes, packed] = run("packed");
  const auto [spread_nodes, spread] = run("spread");
  EXPECT_EQ(std::vector<int>(packed_nodes.begin(), packed_nodes.begin() + 8), std::vector<int>(8, 0));
  EXPECT_EQ(std::vector<int>(spread_nodes.begin(), spread_nodes.begin() + 8), (std::vector<int>{0, 0, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(packed.a2a_inter_node, Bytes());
  EXPECT_GT(spread.a2a_inter_node, spread.a2a_intra_node);
  EXPECT_NEAR((spread.a2a_inter_node + spread.a2a_intra_node).count(), packed.a2a_intra_node.count(), 1e-6 * packed.a2a_intra_node.count());
}

TEST(ParallelLayout, LayersSplitEvenlyWithTheRemainderInTheMiddle) {
  EXPECT_EQ(split_layers(8, 4), (std::vector<std::vector<int>>{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  const auto split = split_layers(94, 96);  // Megatron's account for embedding and loss
  EXPECT_TRUE(split.front().empty());
  EXPECT_TRUE(split.back().empty());
  EXPECT_EQ(split[1], std::vector<int>{0});
}

// DeepSeek-V3's 61 layers and its prediction module (layer 61) over 32 virtual stages: Megatron-
// Bridge's layout Et|(tt|)*30mL. Modules that the even split would spread move to the last stage.
TEST(ParallelLayout, PredictionModulesCountInTheSplitAndSitOnTheLastStage) {
  const auto deepseek = split_layers(61, 32, 1);
  EXPECT_EQ(deepseek.front(), std::vector<int>{0});
  for (int v = 1; v <= 30; ++v) EXPECT_EQ(deepseek[v], (std::vector<int>{2 * v - 1, 2 * v})) << v;
  EXPECT_EQ(deepseek.back(), std::vector<int>{61});
  EXPECT_EQ(split_layers(6, 3, 3), (std::vector<std::vector<int>>{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}}));
  EXPECT_EQ(split_layers(5, 3, 3), (std::vector<std::vector<int>>{{0, 1, 2}, {3, 4}, {5, 6, 7}}));
  EXPECT_EQ(split_layers(4, 4, 2), (std::vector<std::vector<int>>{{0}, {1, 2}, {3}, {4, 5}}));
}

}  // namespace
}  // namespace moesim
