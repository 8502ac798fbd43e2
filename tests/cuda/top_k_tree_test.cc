#include "cuda/top_k_tree.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "sim/base/random.h"

namespace moesim::router {
namespace {

// The lowest index among the largest untaken values, by a plain scan.
template <int N>
int naive_best(const float (&v)[N], uint64_t taken, float& value) {
  int best = -1;
  for (int i = 0; i < N; ++i) {
    const float x = (taken >> i) & 1u ? -INFINITY : v[i];
    if (best < 0 || x > value) {
      best = i;
      value = x;
    }
  }
  return best;
}

// Values from a handful of levels, so that ties are common, and random taken masks, some full.
template <int N>
void check_against_scan(uint64_t seed) {
  Rng rng(seed, "top-k-tree");
  for (int trial = 0; trial < 2000; ++trial) {
    float v[N];
    for (float& x : v) x = rng.uniform() < 0.1 ? -INFINITY : static_cast<float>(static_cast<int>(rng.uniform() * 4.0));
    uint64_t taken = 0;
    const double density = trial % 10 == 0 ? 1.0 : rng.uniform();
    for (int i = 0; i < N; ++i)
      if (rng.uniform() < density) taken |= uint64_t{1} << i;
    float tree_value = 0, scan_value = 0;
    const int tree = best_untaken<N>(v, taken, tree_value);
    const int scan = naive_best<N>(v, taken, scan_value);
    ASSERT_EQ(tree, scan) << N << " slots, trial " << trial;
    ASSERT_EQ(tree_value, scan_value) << N << " slots, trial " << trial;
  }
}

TEST(TopKTree, PicksTheLowestIndexAmongTheLargestUntakenValues) {
  check_against_scan<2>(1);
  check_against_scan<8>(2);
  check_against_scan<16>(3);
  check_against_scan<32>(4);
  check_against_scan<64>(5);
}

TEST(TopKTree, TiesGoToTheLowerSlotAndTakenSlotsAreSkipped) {
  const float v[8] = {1, 5, 2, 5, 5, 0, 3, 5};
  float value = 0;
  EXPECT_EQ(best_untaken<8>(v, 0, value), 1);
  EXPECT_EQ(value, 5.0f);
  EXPECT_EQ(best_untaken<8>(v, 0b10, value), 3);
  EXPECT_EQ(best_untaken<8>(v, 0b10011010, value), 6);
  EXPECT_EQ(value, 3.0f);
}

// Against a count of the slots themselves, at every boundary up to 256 experts: group edges that
// split a lane's pair (25, 75) included.
TEST(TopKTree, LaneSlotsBelowCountTheLanesExpertsBelowTheBoundary) {
  for (int s = 0; s < 4; ++s)
    for (int x = 0; x <= 256; ++x) {
      int below = 0;
      for (int i = 0; i < 64; ++i) below += 8 * (i / 2) + 2 * s + i % 2 < x;
      EXPECT_EQ(lane_slots_below(x, s), below) << "lane " << s << ", experts below " << x;
    }
  // Lane 0 holds experts 0, 1, 8, 9, 16, 17, 24, 25, ...: a group edge at 25 splits its pair.
  EXPECT_EQ(lane_slots_below(24, 0), 6);
  EXPECT_EQ(lane_slots_below(25, 0), 7);
  EXPECT_EQ(lane_slots_below(26, 0), 8);
  EXPECT_EQ(lane_slots_below(25, 1), 6);  // lane 1: 2, 3, 10, 11, 18, 19, then 26
}

}  // namespace
}  // namespace moesim::router
