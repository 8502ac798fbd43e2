// The terminal table of a run: aligned columns with units, the best step time marked.
#pragma once

#include <string>
#include <vector>

#include "sim/summary.h"

namespace moesim::results {

std::string summary_table(const std::vector<PolicySummary>& rows);

}  // namespace moesim::results
