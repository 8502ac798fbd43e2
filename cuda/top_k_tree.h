// The best of N values that are not yet taken, as the CUDA kernels pick each token's experts from
// the values one lane holds: the lowest index among the maxima, so that within a lane (slots in
// increasing expert order) the lower expert wins ties. A balanced tree of comparisons keeps the
// dependency chains short. The tree is stored as a heap (leaves first, node N/2 + j joining
// nodes 2j and 2j + 1) so that every loop has a constant trip count and, once unrolled, every
// index is a constant: the arrays then stay in registers. (The first version reduced in place,
// level after level; its inner loop's trip count depended on the level, and the compiler kept the
// arrays in local memory.) Host code runs it in the tests, as it does lane_slots_below(), which
// finds an expert group's slots among a lane's.
#pragma once

#include <cmath>
#include <cstdint>

#include "cuda/host_device.h"

namespace moesim::router {

// N: a power of two from 2 to 64. Bit i of `taken` set: slot i is out. Returns the slot and
// writes its value (-inf when every slot is out or -inf; the slot is then the lowest such).
template <int N>
MOESIM_HD int best_untaken(const float (&v)[N], uint64_t taken, float& best_value) {
  static_assert(N >= 2 && N <= 64 && (N & (N - 1)) == 0, "N must be a power of two in [2, 64]");
  constexpr int kLeaves = N / 2;
  float best[2 * kLeaves - 1];
  int slot[2 * kLeaves - 1];
  MOESIM_UNROLL
  for (int i = 0; i < kLeaves; ++i) {
    const float left = (taken >> (2 * i)) & 1u ? -INFINITY : v[2 * i];
    const float right = (taken >> (2 * i + 1)) & 1u ? -INFINITY : v[2 * i + 1];
    const bool take_right = right > left;
    best[i] = take_right ? right : left;
    slot[i] = take_right ? 2 * i + 1 : 2 * i;
  }
  MOESIM_UNROLL
  for (int j = 0; j < kLeaves - 1; ++j) {
    const bool take_right = best[2 * j + 1] > best[2 * j];
    best[kLeaves + j] = take_right ? best[2 * j + 1] : best[2 * j];
    slot[kLeaves + j] = take_right ? slot[2 * j + 1] : slot[2 * j];
  }
  best_value = best[2 * kLeaves - 2];
  return slot[2 * kLeaves - 2];
}

// How many of lane s's slots hold experts below x, where slot i = 2n + b holds expert 8n + 2s + b
// (the m16n8 accumulator layout): two for each full eight experts, and those of the lane's own pair
// in the last, partial eight. A group of consecutive experts [lo, hi) is then the lane's slots
// [lane_slots_below(lo, s), lane_slots_below(hi, s)).
MOESIM_HD int lane_slots_below(int x, int s) {
  const int in_last_eight = x % 8 - 2 * s;
  return 2 * (x / 8) + (in_last_eight < 0 ? 0 : in_last_eight > 2 ? 2 : in_last_eight);
}

}  // namespace moesim::router
