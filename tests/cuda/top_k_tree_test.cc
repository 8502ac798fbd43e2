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

}  // namespace
}  // namespace moesim::router
