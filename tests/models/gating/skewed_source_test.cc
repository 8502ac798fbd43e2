#include "models/gating/skewed_source.h"

#include <gtest/gtest.h>

#include <numeric>

namespace moesim::gating {
namespace {

SkewedSourceParams params(SkewDistribution d) {
  SkewedSourceParams p;
  p.shape.moe_layers = 3;
  p.shape.ranks = 4;
  p.shape.experts = 16;
  p.shape.top_k = 2;
  p.shape.tokens_per_rank = 1000;
  p.distribution = d;
  p.seed = 7;
  return p;
}

TEST(SkewedSource, EveryRankAssignsExactlyTokensTimesTopK) {
  SkewedSource src(params(SkewDistribution::kZipf));
  RoutingMatrix m(3, 4, 16);
  for (int step = 0; step < 5; ++step) {
    src.next(step, m);
    for (int l = 0; l < 3; ++l) {
      for (int r = 0; r < 4; ++r) {
        const auto row = m.row(l, r);
        EXPECT_EQ(std::accumulate(row.begin(), row.end(), int64_t{0}), 2000);
        for (int32_t v : row) {
          EXPECT_GE(v, 0);
          EXPECT_LE(v, 1000);  // an expert sees a token at most once
        }
      }
    }
  }
}

TEST(SkewedSource, SameSeedSameRoutingOtherSeedOtherRouting) {
  RoutingMatrix a(3, 4, 16), b(3, 4, 16), c(3, 4, 16);
  SkewedSource sa(params(SkewDistribution::kDirichlet)), sb(params(SkewDistribution::kDirichlet));
  auto other = params(SkewDistribution::kDirichlet);
  other.seed = 8;
  SkewedSource sc(other);
  bool differs = false;
  for (int step = 0; step < 3; ++step) {
    sa.next(step, a);
    sb.next(step, b);
    sc.next(step, c);
    for (int r = 0; r < 4; ++r) {
      for (int e = 0; e < 16; ++e) {
        EXPECT_EQ(a.row(1, r)[e], b.row(1, r)[e]);
        differs |= a.row(1, r)[e] != c.row(1, r)[e];
      }
    }
  }
  EXPECT_TRUE(differs);
}

// A step may be asked for once per placement: every ask gives the same routing, and asking
// again does not change the steps after it.
TEST(SkewedSource, AskingForAStepAgainGivesTheSameRoutingAndLeavesTheNextStepsAlone) {
  SkewedSource once(params(SkewDistribution::kZipf)), twice(params(SkewDistribution::kZipf));
  RoutingMatrix a(3, 4, 16), b(3, 4, 16), again(3, 4, 16);
  for (int step = 0; step < 4; ++step) {
    once.next(step, a);
    twice.next(step, b);
    again.enable_coactivation();  // a source of counts only leaves none
    twice.next(step, again);
    EXPECT_FALSE(again.has_coactivation());
    for (int l = 0; l < 3; ++l) {
      for (int r = 0; r < 4; ++r) {
        for (int e = 0; e < 16; ++e) {
          EXPECT_EQ(a.row(l, r)[e], b.row(l, r)[e]) << "step " << step;
          EXPECT_EQ(b.row(l, r)[e], again.row(l, r)[e]) << "step " << step;
        }
      }
    }
  }
}

TEST(SkewedSource, ZipfSkewMakesTheHottestExpertCarryTheZipfShare) {
  auto p = params(SkewDistribution::kZipf);
  p.shape.top_k = 1;
  p.drift = 0;
  SkewedSource src(p);
  double harmonic = 0;
  for (int i = 1; i <= 16; ++i) harmonic += 1.0 / i;
  const auto& shares = src.shares(0);
  EXPECT_NEAR(*std::max_element(shares.begin(), shares.end()), 1.0 / harmonic, 1e-12);
}

TEST(SkewedSource, UniformIsBalancedWithinSamplingNoise) {
  auto p = params(SkewDistribution::kUniform);
  p.shape.tokens_per_rank = 100000;
  SkewedSource src(p);
  RoutingMatrix m(3, 4, 16);
  src.next(0, m);
  const auto loads = m.expert_loads(0);
  const double mean = 4.0 * 100000 * 2 / 16;
  for (int64_t v : loads) EXPECT_NEAR(static_cast<double>(v), mean, 0.05 * mean);
}

TEST(CapShares, NoShareExceedsOneOverTopK) {
  std::vector<double> s{0.7, 0.2, 0.05, 0.05};
  cap_shares(s, 2);
  EXPECT_NEAR(s[0], 0.5, 1e-12);
  EXPECT_NEAR(std::accumulate(s.begin(), s.end(), 0.0), 1.0, 1e-12);
  for (double v : s) EXPECT_LE(v, 0.5 + 1e-12);
  EXPECT_NEAR(s[1] / s[2], 4.0, 1e-9);  // the excess is shared in proportion
}

}  // namespace
}  // namespace moesim::gating
