#include <gtest/gtest.h>

#include <algorithm>

#include "policies/placement/migration.h"
#include "policies/placement/packing.h"
#include "policies/placement/predictive_policy.h"
#include "policies/placement/static_placement.h"
#include "policies/predictors/smoothing.h"

namespace moesim::policies {
namespace {

TEST(Packing, BalancesLoadsWithinTheSlots) {
  const std::vector<double> loads = {8, 7, 6, 5, 4, 3, 2, 1};  // 36: 18 per rank is perfect
  const auto rank_of = pack_experts(loads, 2, 4, {});
  EXPECT_DOUBLE_EQ(max_rank_load(loads, rank_of, 2), 18.0);
  EXPECT_EQ(std::count(rank_of.begin(), rank_of.end(), 0), 4);
}

TEST(Packing, SwapsImproveOnLongestFirst) {
  // Longest first gives {3, 2, 2} and {3, 2, 0}, 7 at most; swapping a 3 for a 2 reaches 6.
  const std::vector<double> loads = {3, 3, 2, 2, 2, 0};
  EXPECT_DOUBLE_EQ(max_rank_load(loads, pack_experts(loads, 2, 3, {}), 2), 6.0);
}

TEST(Packing, KeepsRanksWhereTheyWere) {
  // The same plan under other rank names: relabelling gives the current placement back.
  const std::vector<double> loads = {8, 1, 7, 2, 6, 3, 5, 4};
  const auto fresh = pack_experts(loads, 2, 4, {});
  std::vector<int> renamed(fresh);
  for (int& r : renamed) r = 1 - r;
  EXPECT_EQ(pack_experts(loads, 2, 4, renamed), renamed);
}

Placement two_ranks(std::vector<int> rank_of) {
  Placement p;
  auto& layer = p.layers.emplace_back();
  for (int r : rank_of) layer.replicas.push_back({Replica{r, 1.0}});
  return p;
}

TEST(Migration, MovesOnlyWhatChangedHost) {
  EXPECT_TRUE(plan_migration(two_ranks({0, 0, 1, 1}), two_ranks({0, 0, 1, 1})).empty());
  const auto moves = plan_migration(two_ranks({0, 0, 1, 1}), two_ranks({0, 1, 0, 1}));
  ASSERT_EQ(moves.size(), 2u);
  EXPECT_EQ(moves[0].expert, 1);
  EXPECT_EQ(moves[0].from_rank, 0);
  EXPECT_EQ(moves[0].to_rank, 1);
  EXPECT_EQ(moves[1].expert, 2);
  EXPECT_EQ(moves[1].from_rank, 1);
  EXPECT_EQ(moves[1].to_rank, 0);
}

const PlacementShape kShape{1, 8, 2};

TEST(PredictivePolicy, UniformLoadsNeverMoveExperts) {
  PredictivePolicy policy(kShape, static_placement(kShape, StaticLayout::kContiguous), std::make_unique<SlidingWindowPredictor>(SeriesShape{1, 8}, 10),
                          PredictiveSettings{5, 10, 5, 0.02});
  const Placement initial = policy.placement_for(0);
  for (int step = 0; step < 50; ++step) {
    EXPECT_EQ(policy.placement_for(step), initial) << step;
    policy.observe(step, {{100, 101, 99, 100, 100, 100, 101, 99}});
  }
}

TEST(PredictivePolicy, PacksFromTheForecastAfterWarmUp) {
  PredictivePolicy policy(kShape, static_placement(kShape, StaticLayout::kContiguous), std::make_unique<LastValuePredictor>(SeriesShape{1, 8}),
                          PredictiveSettings{100, 10, 3, 0.02});
  const ExpertLoads hot_first_half = {{8, 7, 6, 5, 4, 3, 2, 1}};  // contiguous: 26 against 10
  for (int step = 0; step < 3; ++step) {
    policy.placement_for(step);
    policy.observe(step, hot_first_half);
  }
  const auto& p = policy.placement_for(3);
  std::vector<int> rank_of;
  for (const auto& replicas : p.layers[0].replicas) rank_of.push_back(replicas[0].ep_rank);
  EXPECT_DOUBLE_EQ(max_rank_load(hot_first_half[0], rank_of, 2), 18.0);
}

TEST(PredictivePolicy, OraclePlacesFromTheLoadsItIsShown) {
  PredictivePolicy oracle(kShape, static_placement(kShape, StaticLayout::kContiguous), nullptr, PredictiveSettings{100, 2, 1, 0.02});
  EXPECT_EQ(oracle.lookahead(), 2);
  EXPECT_EQ(oracle.name(), "oracle");
  oracle.observe(0, {{1, 1, 1, 1, 1, 1, 1, 1}});
  oracle.foresee(1, {{8, 7, 6, 5, 4, 3, 2, 1}});
  oracle.foresee(2, {{8, 7, 6, 5, 4, 3, 2, 1}});
  std::vector<int> rank_of;
  for (const auto& replicas : oracle.placement_for(1).layers[0].replicas) rank_of.push_back(replicas[0].ep_rank);
  EXPECT_DOUBLE_EQ(max_rank_load(std::vector<double>{8, 7, 6, 5, 4, 3, 2, 1}, rank_of, 2), 18.0);
}

}  // namespace
}  // namespace moesim::policies
