#include "models/gating/rank_sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moesim::gating {
namespace {

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
  std::vector<double> sum(shares.size(), 0.0), squares(shares.size(), 0.0);
  for (int i = 0; i < rows; ++i) {
    sampler.sample(rng, row);
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
  for (int i = 0; i < 5000; ++i) {
    sampler.sample(rng, row);
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
  for (int i = 0; i < 20000; ++i) {
    sampler.sample(rng, row);
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
  sampler.sample(a, x);
  sampler.sample(b, y);
  EXPECT_EQ(x, y);
  sampler.sample(a, x);
  EXPECT_NE(x, y);
}

}  // namespace
}  // namespace moesim::gating
