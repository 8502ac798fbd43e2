// A sweep's combined results: sweep.csv and sweep.h5, one row per point and policy, the swept
// values as columns in front of summary.csv's. Both are built from the points' own summaries, so
// a resumed sweep writes the same bytes as a clean one.
#pragma once

#include <string>
#include <vector>

#include "sim/summary.h"

namespace moesim::results {

struct SweepPointSummary {
  int point = 0;
  std::vector<std::string> values;  // one per axis
  std::vector<PolicySummary> policies;
};

struct SweepTable {
  std::string name;
  std::vector<std::string> axes;  // key paths
  std::vector<SweepPointSummary> points;
};

std::string sweep_csv(const SweepTable& table);

// Columns as datasets of one row per point and policy (layout in results/README.md). Written
// whole or not at all; throws std::runtime_error naming the path when it cannot be.
void write_sweep_h5(const std::string& path, const SweepTable& table);

}  // namespace moesim::results
