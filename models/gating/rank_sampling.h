// Splitting a rank's tokens over experts with multinomial-sized noise.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/gating/normal_batch.h"
#include "sim/base/cache_aligned.h"
#include "sim/base/random.h"

namespace moesim::gating {

// Fills rows with a rank's assignments to each expert: tokens * top_k in total, each expert at
// most `tokens` (a token picks an expert once), around tokens * top_k * shares[e] with the noise
// of a multinomial draw (normal approximations of Poisson counts, scaled and rounded so the row
// sums exactly). `shares` sum to 1 and are at most 1 / top_k each. Every rank of a layer usually has the same shares, so
// they are set once (`prepare`) and rows sampled from them many times.
class RankSampler {
 public:
  void prepare(std::span<const double> shares, int64_t tokens, int top_k);
  // Fills `row` (one count per expert) and adds it to `loads`.
  void sample(Rng& rng, std::span<int32_t> row, std::span<int64_t> loads);
  // Advances `rng` as sampling `rows` rows would, whatever their shares and size (every row takes
  // the same draws): rows can be sampled in parts, each part from its own place in the stream.
  static void skip(Rng& rng, int64_t rows);

 private:
  static constexpr int kFractionBits = 24;  // fixed point for rounding
  static constexpr double kOne = 1 << kFractionBits;

  // Scales draws_ to sum to the assignments, none above the tokens, into fixed_ (to_fixed()):
  // `pinned` tokens are in draws at the cap, the others sum to `free`, less than the assignments.
  // Water-filling: the draws below the cap scale alike; those the scaling takes to the cap stay
  // there and the others scale again (in the usual row, nothing reaches the cap: one pass).
  void scale_into_fixed(double pinned, double free);
  // Scales draws_ to sum to the assignments where the cap leaves no room to fill (more experts at
  // the cap than the row holds, or none below it): all alike, from a sum of `total`.
  void scale_alike(double total);
  // draws_ in fixed point into fixed_, none above the cap, and what they miss of the assignments.
  void to_fixed();
  // Rounds fixed_ into `row`, summing exactly to the assignments, and adds it to `loads`.
  void round_systematically(uint64_t random, std::span<int32_t> row, std::span<int64_t> loads);

  int64_t tokens_ = 0;
  int64_t assignments_ = 0;
  CacheAlignedVector<double> mean_, sd_;
  NormalBatch normals_;
  CacheAlignedVector<double> draws_;
  CacheAlignedVector<int64_t> fixed_;
  int64_t missing_ = 0;  // in fixed point: the assignments less fixed_'s sum
};

// Caps each share at 1/top_k and renormalises, giving the excess to the others in proportion to
// their shares.
void cap_shares(std::vector<double>& shares, int top_k);

}  // namespace moesim::gating
