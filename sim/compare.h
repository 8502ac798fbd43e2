// What-if comparisons: two scenarios run over the same seeds, each metric's difference per
// policy, and whether it is larger than the run-to-run variation across seeds.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sim/summary.h"

namespace moesim {

// A metric over seeds.
struct SeedStats {
  double mean = 0;
  double stddev = 0;  // sample standard deviation; 0 with one seed
  int seeds = 0;
};

SeedStats seed_stats(const std::vector<double>& values);

// kGigabytesPerStep: bytes moved per step; kGigabytes: bytes held.
enum class MetricUnit { kMilliseconds, kTokensPerSecond, kFraction, kRatio, kGigabytesPerStep, kGigabytes, kMoney };

struct MetricComparison {
  std::string metric;
  MetricUnit unit;
  bool lower_is_better = true;
  SeedStats base, variant;
  double delta = 0;     // variant - base
  double relative = 0;  // delta / base (0 when base is 0)
  // Twice the standard error of the difference of means: a difference beyond it is unlikely to be
  // seed noise (about 95 %). Nothing with one seed, where there is no variation to measure.
  std::optional<double> noise;
  bool significant() const { return noise && std::abs(delta) > *noise; }
};

struct PolicyComparison {
  std::string label;
  std::vector<MetricComparison> metrics;
};

// `base[seed]` and `variant[seed]` are the runs' summaries, seed by seed. Policies are matched by
// label, in the base's order; labels on one side only are left out (`unmatched` names them).
std::vector<PolicyComparison> compare_runs(const std::vector<std::vector<PolicySummary>>& base,
                                           const std::vector<std::vector<PolicySummary>>& variant,
                                           std::vector<std::string>* unmatched = nullptr);

}  // namespace moesim
