// Terminal tables: aligned columns with units, the best value marked.
#pragma once

#include <string>
#include <vector>

#include "sim/results/sweep_outputs.h"
#include "sim/summary.h"

namespace moesim::results {

// Columns padded to their widest cell, a rule under the header; the first `left` columns
// left-aligned (names), the rest right-aligned (numbers).
std::string aligned_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows, size_t left = 1);

// A run: one row per policy, the fastest mean step time marked with *.
std::string summary_table(const std::vector<PolicySummary>& rows);

// A sweep: one row per point and policy, at most `max_rows` (then a line saying how many more
// sweep.csv holds); each point's fastest policy marked with *.
std::string sweep_table(const SweepTable& table, size_t max_rows = 60);

// "12.34 ms", "4.09 M": numbers as the tables print them.
std::string format(const char* printf_format, double v);
std::string tokens_rate(double tokens_per_second);

}  // namespace moesim::results
