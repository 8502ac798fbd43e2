// summary.csv: one row per policy. Columns are documented in results/README.md.
#pragma once

#include <string>
#include <vector>

#include "sim/summary.h"

namespace moesim::results {

std::string summary_csv(const std::vector<PolicySummary>& rows);

// The header line and one row, without line ends: sweep.csv puts its own columns in front.
std::string summary_csv_header();
std::string summary_csv_row(const PolicySummary& row);

// Reads summary_csv's output back (numbers at the precision written). Throws std::runtime_error
// naming the line when the text is not such a file.
std::vector<PolicySummary> parse_summary_csv(const std::string& text);

// A CSV field, quoted when it holds a comma, a quote or a line end.
std::string csv_field(const std::string& s);

}  // namespace moesim::results
