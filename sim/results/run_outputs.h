// The files of one run in its output directory: summary.csv, run.h5, timeline.json when asked,
// and the resolved scenario.yaml, each written atomically. scenario.yaml is written last, so a
// directory holding it holds a whole result: what a resumed sweep relies on.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "sim/runner.h"
#include "sim/summary.h"

namespace moesim::results {

// Returns the paths written, scenario.yaml last. Throws std::runtime_error naming a file that
// cannot be written.
std::vector<std::string> write_run_outputs(const scenarios::Scenario& scenario, const std::string& resolved_yaml,
                                           const std::vector<PolicySummary>& summary, const RunResult& run, bool timeline);

// Whether `dir` holds a whole result of the scenario whose resolved YAML is `resolved_yaml`.
bool has_run_outputs(const std::string& dir, const std::string& resolved_yaml);

// The text of a file, or nothing when it cannot be read.
std::optional<std::string> read_text_file(const std::string& path);

}  // namespace moesim::results
