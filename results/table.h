// Terminal tables: aligned columns with units, the best value marked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "results/sweep_outputs.h"
#include "sim/compare.h"
#include "sim/summary.h"

namespace moesim::results {

// Columns padded to their widest cell, a rule under the header; columns from `left` up to
// `right_end` right-aligned (numbers), the others left-aligned (names, words). Rows listed in
// `bold` are wrapped in the terminal's bold escape codes.
std::string aligned_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows, size_t left = 1,
                          size_t right_end = SIZE_MAX, const std::vector<size_t>& bold = {});

// A run: one row per policy, the fastest mean step time marked with * (and bold when `bold`: for
// a terminal).
std::string summary_table(const std::vector<PolicySummary>& rows, bool bold = false);

// A sweep: one row per point and policy, at most `max_rows` (then a line saying how many more
// sweep.csv holds); each point's fastest policy marked with * (and bold when `bold`).
std::string sweep_table(const SweepTable& table, bool bold = false, size_t max_rows = 60);

// A what-if: per policy, each metric for base and variant (means over seeds), the difference,
// and whether it is beyond the seeds' run-to-run variation.
std::string compare_table(const std::vector<PolicyComparison>& policies);

// "12.34 ms", "4.09 M": numbers as the tables print them.
std::string format(const char* printf_format, double v);
std::string tokens_rate(double tokens_per_second);

}  // namespace moesim::results
