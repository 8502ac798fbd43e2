#include "sim/summary.h"

#include <gtest/gtest.h>

#include "scenarios/loader/loader.h"

namespace moesim {
namespace {

TEST(Summary, QuantileIsNearestRank) {
  std::vector<double> v{5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 3);
  EXPECT_DOUBLE_EQ(quantile(v, 0.99), 5);
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1);
  std::vector<double> hundred(100);
  for (int i = 0; i < 100; ++i) hundred[i] = i + 1;
  EXPECT_DOUBLE_EQ(quantile(hundred, 0.99), 99);
}

TEST(Summary, RatesAndSharesFromStepRecords) {
  scenarios::Scenario s;
  s.training.tokens_per_step = 1000;
  RunResult run;
  PolicyRun p;
  p.label = "x";
  for (int i = 1; i <= 2; ++i) {
    StepResult r;
    r.step_time = Milliseconds(10 * i);                            // 10 ms, 20 ms
    r.compute_busy = {Milliseconds(5 * i), Milliseconds(10 * i)};  // 50 % and 100 %
    r.all_to_all_time = Milliseconds(3 * i);
    r.imbalance = 1.5;
    r.assignments = 100;
    r.dropped = 10;
    p.steps.push_back(r);
  }
  run.policies.push_back(p);
  const PolicySummary sum = summarize(s, run).at(0);
  EXPECT_DOUBLE_EQ(sum.step_ms_mean, 15);
  EXPECT_DOUBLE_EQ(sum.tokens_per_second, 2000 / 0.030);
  EXPECT_DOUBLE_EQ(sum.gpu_utilization, 0.75);
  EXPECT_DOUBLE_EQ(sum.gpu_utilization_min, 0.5);  // the less busy GPU
  EXPECT_DOUBLE_EQ(sum.all_to_all_share, 0.3);
  EXPECT_DOUBLE_EQ(sum.imbalance, 1.5);
  EXPECT_DOUBLE_EQ(sum.dropped_fraction, 0.1);
}

}  // namespace
}  // namespace moesim
