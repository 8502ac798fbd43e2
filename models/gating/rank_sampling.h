// Splitting a rank's tokens over experts with multinomial-sized noise.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "sim/base/random.h"

namespace moesim::gating {

// Fills `row` with a rank's assignments to each expert: tokens * top_k in total, each expert at
// most `tokens` (a token picks an expert once), around tokens * top_k * shares[e] with the noise
// of a multinomial draw (normal approximation, then largest-remainder rounding so the row sums
// exactly). `shares` sum to 1 and are at most 1 / top_k each.
class RankSampler {
 public:
  void sample(std::span<const double> shares, int64_t tokens, int top_k, Rng& rng, std::span<int32_t> row);

 private:
  std::vector<double> draws_;
  std::vector<std::pair<double, int>> remainders_;
};

// Caps each share at 1/top_k and renormalises, giving the excess to the others in proportion to
// their shares.
void cap_shares(std::vector<double>& shares, int top_k);

}  // namespace moesim::gating
