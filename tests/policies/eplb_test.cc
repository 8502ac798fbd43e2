#include "policies/placement/eplb.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "sim/base/random.h"

namespace moesim::policies {
namespace {

// EPLB's own example (its README): 2 layers of 12 experts, 16 physical slots, 4 groups, 2 nodes,
// 8 GPUs; the hierarchical policy's phy2log as the README prints it.
const std::vector<std::vector<double>> kReadmeLoads = {{90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86},
                                                       {20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27}};

TEST(Eplb, GivesItsReadmesPlan) {
  const EplbShape shape{16, 4, 2, 8};
  ASSERT_EQ(eplb_default_mode(shape), EplbMode::kHierarchical);
  const EplbPlan plan = rebalance_experts(kReadmeLoads, shape, EplbMode::kHierarchical);
  const std::vector<int> expected = {5, 6,  5, 7, 8, 4,  3, 4, 10, 9, 10, 2, 0, 1, 11, 1,  //
                                     7, 10, 6, 8, 6, 11, 8, 9, 2,  4, 5,  1, 5, 0, 3,  1};
  EXPECT_EQ(plan.phy2log, expected);
  // logcnt and log2phy follow from phy2log: each expert's slots in replica order.
  for (int l = 0; l < 2; ++l) {
    for (int e = 0; e < 12; ++e) {
      const int count = static_cast<int>(std::count(expected.begin() + l * 16, expected.begin() + (l + 1) * 16, e));
      EXPECT_EQ(plan.logcnt[l * 12 + e], count) << "layer " << l << " expert " << e;
      for (int r = 0; r < plan.max_count; ++r) {
        const int slot = plan.log2phy[(l * 12 + e) * plan.max_count + r];
        if (r < count)
          EXPECT_EQ(plan.slot_expert(l, slot), e);
        else
          EXPECT_EQ(slot, -1);
      }
    }
  }
}

// The same loads with 3 groups on 2 nodes: EPLB falls back to its global policy.
TEST(Eplb, FallsBackToGlobalWhereTheNodesDoNotDivideTheGroups) {
  const EplbShape shape{16, 3, 2, 8};
  EXPECT_EQ(eplb_default_mode(shape), EplbMode::kGlobal);
  EXPECT_NE(eplb_shape_problem(12, shape, EplbMode::kHierarchical), "");
  EXPECT_THROW(rebalance_experts(kReadmeLoads, shape, EplbMode::kHierarchical), std::invalid_argument);
  const EplbPlan plan = rebalance_experts(kReadmeLoads, shape, EplbMode::kGlobal);
  // Global mode ignores groups and nodes: the plan of one group on one node.
  EXPECT_EQ(plan.phy2log, rebalance_experts(kReadmeLoads, {16, 1, 1, 8}, EplbMode::kHierarchical).phy2log);
}

// EPLB's algorithm once more, written as its README describes it with lists rather than index
// maps: a check of the bookkeeping (which slot holds what), not of the choices.
std::vector<int> reference_phy2log(const std::vector<double>& loads, const EplbShape& s) {
  const int experts = static_cast<int>(loads.size()), group_size = experts / s.groups;
  const int node_slots = s.physical / s.nodes, gpus_per_node = s.gpus / s.nodes, gpu_slots = s.physical / s.gpus;
  // Items heaviest first (equal ones in the order given), each to the first lightest bin with room.
  const auto pack = [](const std::vector<float>& load, int bins) {
    const int per_bin = static_cast<int>(load.size()) / bins;
    std::vector<int> order(load.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return load[a] > load[b]; });
    std::vector<std::vector<int>> bin(bins);
    std::vector<float> total(bins, 0.0f);
    for (int item : order) {
      int best = -1;
      for (int b = 0; b < bins; ++b)
        if (static_cast<int>(bin[b].size()) < per_bin && (best < 0 || total[b] < total[best])) best = b;
      bin[best].push_back(item);
      total[best] += load[item];
    }
    return bin;
  };
  std::vector<float> group_load(s.groups, 0.0f);
  for (int e = 0; e < experts; ++e) group_load[e / group_size] += static_cast<float>(loads[e]);
  std::vector<std::vector<int>> node_groups(s.nodes);
  if (s.groups == s.nodes) {
    for (int g = 0; g < s.groups; ++g) node_groups[g].push_back(g);  // one group per node: in order
  } else {
    node_groups = pack(group_load, s.nodes);
  }
  std::vector<int> out;
  for (int n = 0; n < s.nodes; ++n) {
    std::vector<int> members;  // the node's experts, group by group
    for (int g : node_groups[n])
      for (int j = 0; j < group_size; ++j) members.push_back(g * group_size + j);
    std::vector<int> count(members.size(), 1), physical(members.size());
    std::iota(physical.begin(), physical.end(), 0);  // positions in `members`
    while (static_cast<int>(physical.size()) < node_slots) {
      size_t best = 0;
      for (size_t i = 1; i < members.size(); ++i)
        if (static_cast<float>(loads[members[i]]) / static_cast<float>(count[i]) >
            static_cast<float>(loads[members[best]]) / static_cast<float>(count[best]))
          best = i;
      ++count[best];
      physical.push_back(static_cast<int>(best));
    }
    std::vector<float> slot_load;
    for (int i : physical) slot_load.push_back(static_cast<float>(loads[members[i]]) / static_cast<float>(count[i]));
    std::vector<std::vector<int>> gpu(gpus_per_node);
    if (gpu_slots == 1) {
      for (int p = 0; p < node_slots; ++p) gpu[p].push_back(p);
    } else {
      gpu = pack(slot_load, gpus_per_node);
    }
    for (const auto& slots : gpu)
      for (int p : slots) out.push_back(members[physical[p]]);
  }
  return out;
}

TEST(Eplb, AgreesWithAPlainReimplementationOnRandomLoads) {
  Rng rng(3, "eplb");
  // Whole loads from a small range, so that ties (and their breaking) are common.
  for (const EplbShape& shape :
       {EplbShape{16, 4, 2, 8}, EplbShape{64, 8, 4, 16}, EplbShape{48, 4, 2, 8}, EplbShape{32, 8, 1, 8}, EplbShape{40, 1, 1, 8}}) {
    for (int trial = 0; trial < 20; ++trial) {
      const int experts = shape.physical == 40 ? 30 : shape.physical * 3 / 4;
      std::vector<double> loads(experts);
      for (double& v : loads) v = static_cast<double>(rng.below(trial % 2 ? 8 : 1000));
      const EplbPlan plan = rebalance_experts({loads}, shape, EplbMode::kHierarchical);
      EXPECT_EQ(plan.phy2log, reference_phy2log(loads, shape))
          << "shape " << shape.physical << "/" << shape.groups << "/" << shape.nodes << "/" << shape.gpus << " trial " << trial;
    }
  }
}

TEST(Eplb, RejectsShapesItCannotPlan) {
  EXPECT_NE(eplb_shape_problem(12, {12, 4, 2, 8}, EplbMode::kGlobal), "");  // 12 slots on 8 GPUs
  EXPECT_NE(eplb_shape_problem(12, {8, 4, 2, 8}, EplbMode::kGlobal), "");   // fewer slots than experts
  EXPECT_NE(eplb_shape_problem(12, {16, 5, 1, 8}, EplbMode::kHierarchical), "");
  EXPECT_NE(eplb_shape_problem(12, {16, 4, 3, 6}, EplbMode::kGlobal), "");  // 16 slots on 6 GPUs
  EXPECT_EQ(eplb_shape_problem(12, {16, 4, 2, 8}, EplbMode::kHierarchical), "");
}

}  // namespace
}  // namespace moesim::policies
