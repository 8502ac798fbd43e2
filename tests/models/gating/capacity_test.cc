#include "models/gating/capacity.h"

#include <gtest/gtest.h>

namespace moesim::gating {
namespace {

TEST(Capacity, GShardFormula) {
  // ceil(1.25 * 4096 * 2 / 64) = 160
  EXPECT_EQ(expert_capacity(1.25, 4096, 2, 64), 160);
  EXPECT_EQ(expert_capacity(1.0, 10, 1, 3), 4);
}

TEST(Capacity, TokensOverCapacityMoveToDropped) {
  RoutingMatrix m(1, 2, 3);
  auto r0 = m.row(0, 0);
  r0[0] = 10;
  r0[1] = 3;
  r0[2] = 0;
  auto r1 = m.row(0, 1);
  r1[0] = 4;
  r1[1] = 7;
  r1[2] = 2;
  EXPECT_EQ(apply_capacity(m, 5), 5 + 2);
  EXPECT_EQ(m.row(0, 0)[0], 5);
  EXPECT_EQ(m.dropped_row(0, 0)[0], 5);
  EXPECT_EQ(m.row(0, 1)[1], 5);
  EXPECT_EQ(m.dropped_row(0, 1)[1], 2);
  EXPECT_EQ(m.row(0, 1)[2], 2);
}

}  // namespace
}  // namespace moesim::gating
