#include "models/gating/rank_sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moesim::gating {
namespace {

// The sampler written one expert at a time (plain loops, the normals taken from a batch, which
// normal_batch_test checks on its own): the four-lane sampler must give these rows bit for bit.
std::vector<int32_t> one_by_one(Rng& rng, const std::vector<double>& shares, int64_t tokens, int top_k) {
  NormalBatch batch;
  const std::span<const float> normals = batch.draw(rng, shares.size());
  const size_t experts = shares.size();
  const int64_t assignments = tokens * top_k, cap_fixed = tokens << 24;
  const double cap = static_cast<double>(tokens), total = static_cast<double>(assignments);
  std::vector<double> draws(experts);
  int at_cap = 0;
  double below[4] = {0, 0, 0, 0};
  for (size_t e = 0; e < experts; ++e) {
    const double mean = total * shares[e];
    draws[e] = std::clamp(mean + std::sqrt(mean) * static_cast<double>(normals[e]), 0.0, cap);
    at_cap += draws[e] >= cap;
    below[e % 4] += draws[e] < cap ? draws[e] : 0.0;
  }
  double free = (below[0] + below[1]) + (below[2] + below[3]), pinned = at_cap * cap;
  std::vector<int64_t> fixed(experts);
  int64_t missing = 0;
  const auto to_fixed = [&] {
    missing = assignments << 24;
    for (size_t e = 0; e < experts; ++e) missing -= fixed[e] = std::min(cap_fixed, static_cast<int64_t>(draws[e] * 0x1p24 + 0.5));
  };
  if (free > 0 && pinned < total) {
    for (size_t pass = 0; pass < experts && free > 0; ++pass) {
      const double scale = (total - pinned) / free;
      int capped = 0;
      std::fill(below, below + 4, 0.0);
      for (size_t e = 0; e < experts; ++e) {
        if (draws[e] < cap) {
          draws[e] = std::min(draws[e] * scale, cap);
          capped += draws[e] >= cap;
        }
        below[e % 4] += draws[e] < cap ? draws[e] : 0.0;
      }
      to_fixed();
      if (capped == 0) break;
      pinned += capped * cap;
      free = (below[0] + below[1]) + (below[2] + below[3]);
    }
  } else {
    const double scale = total / (pinned + free);
    for (double& d : draws) d = pinned + free > 0 ? std::min(d * scale, cap) : total / static_cast<double>(experts);
    to_fixed();
  }
  for (size_t e = 0; missing != 0 && e < experts; ++e) {
    const int64_t take = missing > 0 ? std::min(missing, cap_fixed - fixed[e]) : std::max(missing, -fixed[e]);
    fixed[e] += take;
    missing -= take;
  }
  std::vector<int32_t> row(experts);
  int64_t running = static_cast<int64_t>(rng.next() >> 40), crossed = 0;
  for (size_t e = 0; e < experts; ++e) {
    running += fixed[e];
    row[e] = static_cast<int32_t>((running >> 24) - crossed);
    crossed = running >> 24;
  }
  return row;
}

// Rows of 1 to 70 experts (every tail past the four-lane loop), from shares that are even, skewed
// and crowded at the cap (so that the scaling passes repeat and, with more experts at the cap than
// the row holds, the draws scale alike), of one token and of thousands.
TEST(RankSampler, GivesTheRowsOfTheOneByOneSampler) {
  Rng batched(17, "test"), single(17, "test"), shape(5, "shape");
  RankSampler sampler;
  int scaled_again = 0;
  for (int experts = 1; experts <= 70; ++experts) {
    for (int kind = 0; kind < 3; ++kind) {
      const int top_k = std::min(experts, kind == 2 ? 8 : 2);
      std::vector<double> shares(experts);
      for (double& s : shares) s = kind == 0 ? 1.0 : kind == 1 ? std::exp(3 * shape.normal()) : 1.0 + 0.01 * shape.uniform();
      const double sum = std::accumulate(shares.begin(), shares.end(), 0.0);
      for (double& s : shares) s /= sum;
      cap_shares(shares, top_k);
      for (const int64_t tokens : {int64_t{1}, int64_t{4096}}) {
        sampler.prepare(shares, tokens, top_k);
        std::vector<int64_t> loads(experts, 0), expected_loads(experts, 0);
        for (int i = 0; i < 20; ++i) {
          std::vector<int32_t> row(experts);
          sampler.sample(batched, row, loads);
          const std::vector<int32_t> expected = one_by_one(single, shares, tokens, top_k);
          ASSERT_EQ(row, expected) << experts << " experts, shares of kind " << kind << ", " << tokens << " tokens, row " << i;
          for (int e = 0; e < experts; ++e) expected_loads[e] += expected[e];
          ASSERT_EQ(loads, expected_loads) << experts << " experts, shares of kind " << kind << ", " << tokens << " tokens, row " << i;
          scaled_again += std::count(row.begin(), row.end(), static_cast<int32_t>(tokens)) > 0;
        }
      }
    }
  }
  EXPECT_GT(scaled_again, 100);  // rows with an expert at the cap
}

// Over many rows of one rank, each expert's count has a multinomial's mean and variance:
// n·p and n·p·(1 − p), n = tokens · top_k.
TEST(RankSampler, CountsHaveAMultinomialsMeanAndVariance) {
  const std::vector<double> shares{0.30, 0.25, 0.20, 0.10, 0.08, 0.04, 0.02, 0.01};
  const int64_t tokens = 2000;
  const int top_k = 2, rows = 20000;
  RankSampler sampler;
  sampler.prepare(shares, tokens, top_k);
  Rng rng(7, "test");
  std::vector<int32_t> row(shares.size());
  std::vector<int64_t> loads(shares.size());
  std::vector<double> sum(shares.size(), 0.0), squares(shares.size(), 0.0);
  for (int i = 0; i < rows; ++i) {
    sampler.sample(rng, row, loads);
    ASSERT_EQ(std::accumulate(row.begin(), row.end(), int64_t{0}), tokens * top_k);
    for (size_t e = 0; e < shares.size(); ++e) {
      sum[e] += row[e];
      squares[e] += static_cast<double>(row[e]) * row[e];
    }
  }
  const double n = static_cast<double>(tokens * top_k);
  for (size_t e = 0; e < shares.size(); ++e) {
    const double mean = sum[e] / rows, variance = squares[e] / rows - mean * mean;
    const double expected_variance = n * shares[e] * (1 - shares[e]);
    // The mean within 4 standard errors; the variance within 5 %, its sampling error about 1 %.
    EXPECT_NEAR(mean, n * shares[e], 4 * std::sqrt(expected_variance / rows)) << "expert " << e;
    EXPECT_NEAR(variance / expected_variance, 1.0, 0.05) << "expert " << e;
  }
}

// An expert at the cap (share 1/top_k) never gets more than the rank's tokens, and the others
// make up the row.
TEST(RankSampler, NoExpertGetsMoreThanTheTokens) {
  const std::vector<double> shares{0.5, 0.5 - 1e-3, 1e-3};
  RankSampler sampler;
  sampler.prepare(shares, 1000, 2);
  Rng rng(3, "test");
  std::vector<int32_t> row(shares.size());
  std::vector<int64_t> loads(shares.size());
  for (int i = 0; i < 5000; ++i) {
    sampler.sample(rng, row, loads);
    ASSERT_EQ(row[0] + row[1] + row[2], 2000);
    for (int32_t v : row) {
      ASSERT_GE(v, 0);
      ASSERT_LE(v, 1000);
    }
  }
}

// Nine experts at 8/9 of the cap each, top-8 of one token: now and then all nine draws reach the
// cap, more than the row can hold, and then all scale down alike.
TEST(RankSampler, MoreExpertsAtTheCapThanTheRowHolds) {
  const std::vector<double> shares(9, 1.0 / 9);
  RankSampler sampler;
  sampler.prepare(shares, 1, 8);
  Rng rng(5, "test");
  std::vector<int32_t> row(shares.size());
  std::vector<int64_t> loads(shares.size());
  for (int i = 0; i < 20000; ++i) {
    sampler.sample(rng, row, loads);
    ASSERT_EQ(std::accumulate(row.begin(), row.end(), 0), 8);
    for (int32_t v : row) {
      ASSERT_GE(v, 0);
      ASSERT_LE(v, 1);
    }
  }
}

TEST(RankSampler, TheSameGeneratorStateGivesTheSameRow) {
  const std::vector<double> shares(64, 1.0 / 64);
  RankSampler sampler;
  sampler.prepare(shares, 4096, 8);
  Rng a(11, "test"), b(11, "test");
  std::vector<int32_t> x(64), y(64);
  std::vector<int64_t> loads(64);
  sampler.sample(a, x, loads);
  sampler.sample(b, y, loads);
  EXPECT_EQ(x, y);
  sampler.sample(a, x, loads);
  EXPECT_NE(x, y);
}

// skip() moves the generator as far as sampling the same number of rows, whatever their size,
// shares and tokens (capped rows included).
TEST(RankSampler, SkippingRowsTakesTheDrawsSamplingThemTakes) {
  Rng shape(9, "shape");
  RankSampler sampler;
  for (const int experts : {1, 3, 16, 257}) {
    for (const int64_t tokens : {int64_t{1}, int64_t{4096}}) {
      std::vector<double> shares(experts);
      for (double& s : shares) s = std::exp(3 * shape.normal());
      const double sum = std::accumulate(shares.begin(), shares.end(), 0.0);
      for (double& s : shares) s /= sum;
      const int top_k = std::min(experts, 2);
      cap_shares(shares, top_k);
      sampler.prepare(shares, tokens, top_k);
      for (const int rows : {0, 1, 5}) {
        Rng sampled(3, "rows"), skipped(3, "rows");
        std::vector<int32_t> row(experts);
        std::vector<int64_t> loads(experts);
        for (int i = 0; i < rows; ++i) sampler.sample(sampled, row, loads);
        RankSampler::skip(skipped, rows);
        EXPECT_EQ(sampled.next(), skipped.next()) << experts << " experts, " << tokens << " tokens, " << rows << " rows";
      }
    }
  }
}

}  // namespace
}  // namespace moesim::gating
