// Co-activation-aware placement: the graph partition (graph_partition.h), the hierarchical plan
// (affinity.h) and the affinity policy's schedule.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "policies/placement/affinity.h"
#include "policies/placement/affinity_policy.h"
#include "policies/placement/graph_partition.h"
#include "policies/placement/packing.h"
#include "policies/placement/static_placement.h"
#include "policies/predictors/smoothing.h"
#include "sim/base/random.h"

namespace moesim::policies {
namespace {

// A symmetric pair-share matrix with the given weighted pairs.
std::vector<double> pairs(int experts, const std::vector<std::tuple<int, int, double>>& edges) {
  std::vector<double> m(static_cast<size_t>(experts) * experts, 0.0);
  for (auto [e, f, w] : edges) m[static_cast<size_t>(e) * experts + f] = m[static_cast<size_t>(f) * experts + e] = w;
  return m;
}

std::vector<int> iota_vector(int n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(GraphPartition, KernighanLinJoinsThePairsItsStartSplits) {
  // {0, 1} | {2, 3} keeps 0.1; {0, 2} | {1, 3} keeps 2.
  const auto graph = coactivation_graph(pairs(4, {{0, 2, 1.0}, {1, 3, 1.0}, {0, 1, 0.1}}), 4);
  EXPECT_DOUBLE_EQ(total_coactivation(graph), 2.1);
  std::vector<int> part = {0, 0, 1, 1};
  const std::vector<double> loads(4, 1.0);
  EXPECT_NEAR(kernighan_lin(graph, iota_vector(4), loads, 2, 2.0, part), 1.9, 1e-12);
  EXPECT_EQ(part[0], part[2]);
  EXPECT_EQ(part[1], part[3]);
  EXPECT_NE(part[0], part[1]);
  EXPECT_DOUBLE_EQ(kept_coactivation(graph, part), 2.0);
}

TEST(GraphPartition, NeverBreaksTheLoadBound) {
  // The two heavy experts are chosen together, but joining them loads one part with 6 of 8.
  const auto graph = coactivation_graph(pairs(4, {{0, 1, 1.0}, {2, 3, 1.0}}), 4);
  const std::vector<double> loads = {3, 3, 1, 1};
  std::vector<int> part = {0, 1, 0, 1};  // 4 and 4
  EXPECT_EQ(kernighan_lin(graph, iota_vector(4), loads, 2, 4.4, part), 0.0);
  EXPECT_EQ(part, (std::vector<int>{0, 1, 0, 1}));
  EXPECT_NEAR(kernighan_lin(graph, iota_vector(4), loads, 2, 6.0, part), 2.0, 1e-12);
  EXPECT_EQ(part[0], part[1]);
}

TEST(GraphPartition, RecoversAPlantedPartitionFromAStartThatMixesIt) {
  // 32 experts in 4 planted groups (e % 4), strongly tied inside, weakly across; the start puts
  // blocks of 8 consecutive experts together, two of every group in each part.
  constexpr int n = 32;
  Rng rng(7, "test.planted");
  std::vector<std::tuple<int, int, double>> edges;
  for (int e = 0; e < n; ++e) {
    for (int f = e + 1; f < n; ++f) edges.emplace_back(e, f, (e % 4 == f % 4 ? 1.0 : 0.0) + 0.1 * rng.uniform());
  }
  const auto graph = coactivation_graph(pairs(n, edges), n);
  std::vector<int> part(n);
  for (int e = 0; e < n; ++e) part[e] = e / 8;
  const std::vector<double> loads(n, 1.0);
  kernighan_lin(graph, iota_vector(n), loads, 4, 8.0, part);
  for (int e = 0; e < n; ++e) EXPECT_EQ(part[e], part[e % 4]) << "expert " << e;
  for (int p = 0; p < 4; ++p) EXPECT_EQ(std::count(part.begin(), part.end(), p), 8);
}

// Ranks of two nodes of two GPUs.
int node(int rank) { return rank / 2; }

TEST(Affinity, PairsShareAGpuAndPairsOfPairsANode) {
  // Pairs {0, 5}, {1, 6}, {2, 7}, {3, 4}; the first two pairs meet often, the last two too.
  const auto graph = coactivation_graph(pairs(8, {{0, 5, 1.0},
                                                  {1, 6, 1.0},
                                                  {2, 7, 1.0},
                                                  {3, 4, 1.0},  //
                                                  {0, 1, 0.3},
                                                  {5, 6, 0.3},
                                                  {2, 3, 0.3},
                                                  {7, 4, 0.3}}),
                                        8);
  const std::vector<double> loads(8, 1.0);
  const auto rank_of = affinity_pack(loads, graph, AffinityShape{4, 2, 1.1}, {});
  EXPECT_EQ(rank_of[0], rank_of[5]);
  EXPECT_EQ(rank_of[1], rank_of[6]);
  EXPECT_EQ(rank_of[2], rank_of[7]);
  EXPECT_EQ(rank_of[3], rank_of[4]);
  EXPECT_NE(rank_of[0], rank_of[1]);
  EXPECT_EQ(node(rank_of[0]), node(rank_of[1]));
  EXPECT_EQ(node(rank_of[2]), node(rank_of[3]));
  EXPECT_NE(node(rank_of[0]), node(rank_of[2]));
}

TEST(Affinity, KeepsMoreThanBalancedPackingWithinTheLoadBound) {
  // Skewed loads and random co-activation: the plan keeps at least what balanced packing keeps,
  // and no rank carries more than max_imbalance x the mean, unless packing alone already does.
  constexpr int experts = 64, ranks = 16;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Rng rng(seed, "test.affinity");
    std::vector<double> loads(experts);
    for (double& v : loads) v = 1.0 / (0.2 + rng.uniform());
    std::vector<std::tuple<int, int, double>> edges;
    for (int e = 0; e < experts; ++e) {
      for (int f = e + 1; f < experts; ++f) edges.emplace_back(e, f, rng.uniform() < 0.1 ? rng.uniform() : 0.0);
    }
    const auto graph = coactivation_graph(pairs(experts, edges), experts);
    const auto packed = pack_experts(loads, ranks, experts / ranks, {});
    const auto planned = affinity_pack(loads, graph, AffinityShape{ranks, 4, 1.1}, {});
    const double mean = std::accumulate(loads.begin(), loads.end(), 0.0) / ranks;
    EXPECT_LE(max_rank_load(loads, planned, ranks), std::max(1.1 * mean, max_rank_load(loads, packed, ranks)) * (1 + 1e-12));
    EXPECT_GT(kept_coactivation(graph, planned), kept_coactivation(graph, packed)) << "seed " << seed;
    for (int r = 0; r < ranks; ++r) EXPECT_EQ(std::count(planned.begin(), planned.end(), r), experts / ranks);
  }
}

TEST(Affinity, ReplanningWhatIsInPlaceMovesNothing) {
  Rng rng(3, "test.affinity.replan");
  std::vector<std::tuple<int, int, double>> edges;
  for (int e = 0; e < 16; ++e) {
    for (int f = e + 1; f < 16; ++f) edges.emplace_back(e, f, rng.uniform());
  }
  const auto graph = coactivation_graph(pairs(16, edges), 16);
  std::vector<double> loads(16);
  for (double& v : loads) v = 1 + rng.uniform();
  const AffinityShape shape{8, 4, 1.2};
  const auto first = affinity_pack(loads, graph, shape, {});
  EXPECT_EQ(affinity_pack(loads, graph, shape, first), first);
}

// One layer of 8 experts on 4 ranks, uniform loads.
const PlacementShape kShape{1, 8, 4};

AffinityPolicy affinity_policy() {
  PlanningParams settings;
  settings.rebalance_every = 10;
  settings.warmup = 5;
  settings.horizon = 5;
  return AffinityPolicy(kShape, static_placement(kShape, StaticLayout::kContiguous), settings,
                        std::make_unique<SlidingWindowPredictor>(SeriesShape{1, 8}, 5), AffinityShape{4, 2, 1.1});
}

void feed(AffinityPolicy& policy, int steps, const std::vector<double>& pair_shares) {
  const ExpertLoads loads = {std::vector<double>(8, 100.0)};
  for (int step = 0; step < steps; ++step) {
    policy.placement_for(step);
    policy.observe({step, loads, pair_shares});
  }
}

TEST(AffinityPolicy, PlacesTheObservedPairsTogether) {
  auto policy = affinity_policy();
  EXPECT_TRUE(policy.observations().coactivation);
  EXPECT_EQ(policy.name(), "affinity-sw_avg");
  feed(policy, 5, pairs(8, {{0, 5, 0.25}, {1, 6, 0.25}, {2, 7, 0.25}, {3, 4, 0.25}}));
  const auto& layer = policy.placement_for(5).layers[0];
  for (auto [e, f] : {std::pair{0, 5}, {1, 6}, {2, 7}, {3, 4}}) EXPECT_EQ(layer.replicas[e][0].ep_rank, layer.replicas[f][0].ep_rank);
}

TEST(AffinityPolicy, UniformCoactivationMovesNothing) {
  // Every pair as likely as any other: no plan keeps more, so static placement stays.
  auto policy = affinity_policy();
  std::vector<double> uniform(64, 1.0 / 28);
  for (int e = 0; e < 8; ++e) uniform[static_cast<size_t>(e) * 8 + e] = 0;
  feed(policy, 30, uniform);
  EXPECT_EQ(policy.placement_for(30), static_placement(kShape, StaticLayout::kContiguous));
}

}  // namespace
}  // namespace moesim::policies
