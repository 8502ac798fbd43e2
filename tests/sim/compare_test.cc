// What-if statistics: means over seeds, the noise band, and matching policies by label.
#include "sim/compare.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/sim/policy_summary.h"

namespace moesim {
namespace {

std::vector<PolicySummary> run(double step_ms, const char* label = "static") {
  PolicySummary s = test::policy_summary(label, step_ms);
  s.tokens_per_second = 1e6 / step_ms;
  return {s};
}

const MetricComparison& metric(const PolicyComparison& p, const std::string& name) {
  for (const auto& m : p.metrics) {
    if (m.metric == name) return m;
  }
  throw std::runtime_error("no metric " + name);
}

TEST(SeedStats, MeanAndSampleStandardDeviation) {
  const SeedStats s = seed_stats({10, 12, 14});
  EXPECT_DOUBLE_EQ(s.mean, 12);
  EXPECT_DOUBLE_EQ(s.stddev, 2);  // sqrt((4 + 0 + 4) / 2)
  EXPECT_EQ(s.seeds, 3);
  EXPECT_DOUBLE_EQ(seed_stats({5}).stddev, 0);
}

TEST(CompareRuns, ADifferenceIsSignificantOnlyBeyondTwiceTheStandardError) {
  // Base 10, 12, 14 (sd 2); variant 7, 8, 9 (sd 1): delta -4, noise 2 sqrt(4/3 + 1/3) = 2.582.
  const auto c = compare_runs({run(10), run(12), run(14)}, {run(7), run(8), run(9)});
  ASSERT_EQ(c.size(), 1u);
  const auto& step = metric(c[0], "step time");
  EXPECT_DOUBLE_EQ(step.delta, -4);
  EXPECT_DOUBLE_EQ(step.relative, -4.0 / 12);
  ASSERT_TRUE(step.noise);
  EXPECT_NEAR(*step.noise, 2 * std::sqrt(5.0 / 3), 1e-12);
  EXPECT_TRUE(step.significant());
  // The same means with more spread are not.
  const auto noisy = compare_runs({run(6), run(12), run(18)}, {run(4), run(8), run(12)});
  EXPECT_FALSE(metric(noisy[0], "step time").significant());
  // One seed measures no variation: nothing is called significant.
  const auto once = compare_runs({run(10)}, {run(5)});
  EXPECT_FALSE(metric(once[0], "step time").noise);
  EXPECT_FALSE(metric(once[0], "step time").significant());
}

TEST(CompareRuns, MatchesPoliciesByLabelAndSkipsMetricsOneSideLacks) {
  auto base = run(10);
  base.push_back(run(9, "oracle")[0]);
  auto variant = run(8);
  variant.push_back(run(7, "replicated")[0]);
  variant[0].cost_per_mtok = 0.5;  // priced on one side only
  std::vector<std::string> unmatched;
  const auto c = compare_runs({base}, {variant}, &unmatched);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].label, "static");
  EXPECT_EQ(unmatched, (std::vector<std::string>{"oracle (base only)", "replicated (variant only)"}));
  EXPECT_THROW(metric(c[0], "cost per M tokens"), std::runtime_error);
  EXPECT_FALSE(metric(c[0], "tokens/s").lower_is_better);
}

}  // namespace
}  // namespace moesim
