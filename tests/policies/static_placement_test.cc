#include "policies/placement/static_placement.h"

#include <gtest/gtest.h>

namespace moesim::policies {
namespace {

TEST(StaticPlacement, ContiguousBlocks) {
  const Placement p = static_placement({2, 8, 4}, StaticLayout::kContiguous);
  ASSERT_EQ(p.layers.size(), 2u);
  const int expected[] = {0, 0, 1, 1, 2, 2, 3, 3};
  for (int e = 0; e < 8; ++e) {
    ASSERT_EQ(p.layers[1].replicas[e].size(), 1u);
    EXPECT_EQ(p.layers[1].replicas[e][0].ep_rank, expected[e]);
    EXPECT_DOUBLE_EQ(p.layers[1].replicas[e][0].share, 1.0);
  }
}

TEST(StaticPlacement, RoundRobin) {
  const Placement p = static_placement({1, 8, 4}, StaticLayout::kRoundRobin);
  const int expected[] = {0, 1, 2, 3, 0, 1, 2, 3};
  for (int e = 0; e < 8; ++e) EXPECT_EQ(p.layers[0].replicas[e][0].ep_rank, expected[e]);
}

TEST(StaticPolicy, NeverMoves) {
  StaticPolicy policy({1, 8, 4}, StaticLayout::kContiguous);
  const Placement first = policy.placement_for(0);
  const ExpertLoads loads{{100, 0, 0, 0, 0, 0, 0, 0}};
  policy.observe({0, loads});
  const Placement& later = policy.placement_for(1);
  for (int e = 0; e < 8; ++e) EXPECT_EQ(later.layers[0].replicas[e][0].ep_rank, first.layers[0].replicas[e][0].ep_rank);
}

}  // namespace
}  // namespace moesim::policies
