// compare.csv: `moesim compare --csv FILE`, one row per policy and metric (layout in
// results/README.md).
#pragma once

#include <string>
#include <vector>

#include "sim/compare.h"

namespace moesim::results {

std::string compare_csv(const std::vector<PolicyComparison>& policies);

}  // namespace moesim::results
