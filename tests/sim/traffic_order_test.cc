// A step works out its all-to-alls EP group by group, every layer of a group together
// (step_simulator.cc), where layer_traffic() takes each layer's groups in turn: the two orders must
// give the same traffic, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "scenarios/loader/loader.h"
#include "tests/sim/first_layer_traffic.h"

namespace moesim {
namespace {

void expect_same(const network::CollectiveCost& a, const network::CollectiveCost& b) {
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.intra_node, b.intra_node);
  EXPECT_EQ(a.inter_node, b.inter_node);
  ASSERT_EQ(a.demand.size(), b.demand.size());
  for (size_t p = 0; p < a.demand.size(); ++p) EXPECT_EQ(a.demand[p].links, b.demand[p].links);
  EXPECT_TRUE(std::equal(a.tail.begin(), a.tail.end(), b.tail.begin(), b.tail.end()));
}

void expect_same(const LayerTraffic& a, const LayerTraffic& b) {
  ASSERT_EQ(a.a2a.size(), b.a2a.size());
  for (size_t g = 0; g < a.a2a.size(); ++g) {
    expect_same(a.a2a[g], b.a2a[g]);
    expect_same(a.a2a_combine[g], b.a2a_combine[g]);
  }
  EXPECT_EQ(a.count_exchange, b.count_exchange);
  EXPECT_EQ(a.expert_rows, b.expert_rows);
  EXPECT_EQ(a.experts_forward, b.experts_forward);
  EXPECT_EQ(a.experts_backward, b.experts_backward);
  EXPECT_EQ(a.experts_wgrad, b.experts_wgrad);
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.sent, b.sent);
  EXPECT_EQ(a.sent_combine, b.sent_combine);
  EXPECT_EQ(a.sent_rows, b.sent_rows);
  EXPECT_EQ(a.assignments, b.assignments);
}

// Four EP groups of eight GPUs, each across the four nodes, under the flow model (each group's routes its own
// table), skewed loads so that groups and layers differ, and a combine in other bytes than the
// dispatch (FP8 dispatch: the combine is costed apart).
TEST(LayerTraffic, GroupsTakenInAnyOrderGiveTheSameTrafficAsLayerByLayer) {
  const auto s = scenarios::load_scenario_text(
      "cluster: {preset: h100-dgx, nodes: 4, network: {model: flow}}\n"
      "model: {preset: gpt3-125m-moe, layers: 6, experts: 16, top_k: 2}\n"
      "parallelism: {ep: 8, ep_layout: spread}\n"
      "training: {tokens_per_step: 131072, seq_len: 2048}\n"
      "dispatch: {dtype: fp8}\n"
      "gating: {source: skewed}\n"
      "steps: 1\n",
      "order.yaml");
  FirstLayer step(s);
  const int layers = s.model.moe_layer_count(), groups = step.costs.groups;
  ASSERT_GE(layers, 2);
  ASSERT_EQ(groups, 4);

  std::vector<LayerTraffic> by_layer(layers), by_group(layers);
  StepResult layer_result, group_result;
  for (int l = 0; l < layers; ++l) {
    layer_traffic(step.config, step.costs, *step.network, step.routing, step.placement.layers[l], l, by_layer[l], layer_result);
  }
  // A fresh network model, so that nothing the first pass cached carries over.
  const auto network = network::make_network_model(s.cluster);
  for (int l = 0; l < layers; ++l) begin_layer_traffic(step.config, step.costs, *network, step.placement.layers[l], l, by_group[l]);
  for (int g = groups - 1; g >= 0; --g) {  // last group first, and within it the last layer first
    for (int l = layers - 1; l >= 0; --l) group_traffic(step.config, step.costs, *network, step.routing, l, g, by_group[l]);
  }
  for (int l = 0; l < layers; ++l) end_layer_traffic(step.config, step.costs, *network, by_group[l], group_result);

  for (int l = 0; l < layers; ++l) {
    SCOPED_TRACE(l);
    expect_same(by_layer[l], by_group[l]);
  }
  EXPECT_EQ(layer_result, group_result);
  EXPECT_GT(layer_result.a2a_inter_node.count(), 0);
  EXPECT_NE(by_layer[0].a2a[0].intra_node, by_layer[0].a2a[1].intra_node);  // skewed: groups differ
}

}  // namespace
}  // namespace moesim
