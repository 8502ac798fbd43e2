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

// Dropless runs never write a dropped count: the matrix keeps none and reads zero until one is
// written, and clear_drops() brings every count back to zero.
TEST(Capacity, DroppedCountsReadZeroUntilWrittenAndAfterClearing) {
  RoutingMatrix m(2, 3, 4);
  const RoutingMatrix& read = m;
  for (int l = 0; l < 2; ++l)
    for (int r = 0; r < 3; ++r)
      for (int32_t v : read.dropped_row(l, r)) EXPECT_EQ(v, 0);
  ASSERT_EQ(read.dropped_row(1, 2).size(), 4u);
  m.row(1, 2)[3] = 9;
  EXPECT_EQ(apply_capacity(m, 4), 5);
  EXPECT_EQ(read.dropped_row(1, 2)[3], 5);
  EXPECT_EQ(read.dropped_row(0, 0)[3], 0);
  const RoutingMatrix copy = m;
  m.clear_drops();
  EXPECT_EQ(read.dropped_row(1, 2)[3], 0);
  EXPECT_EQ(copy.dropped_row(1, 2)[3], 5);
}

}  // namespace
}  // namespace moesim::gating
