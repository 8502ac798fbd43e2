// summary.csv: one row per policy. Columns are documented in README.md.
#pragma once

#include <string>
#include <vector>

#include "sim/summary.h"

namespace moesim::results {

std::string summary_csv(const std::vector<PolicySummary>& rows);

}  // namespace moesim::results
