// run.h5: the per-step series of a run, for plots and analysis (layout in results/README.md).
// Written whole or not at all. Object timestamps are off, so the same run gives the same bytes.
#pragma once

#include <string>

#include "scenarios/scenario.h"
#include "sim/runner.h"

namespace H5 {
class H5File;
}

namespace moesim::results {

// `resolved_yaml` is stored with it (attribute scenario_yaml). Throws files::FileError naming the
// path when the file cannot be written.
void write_run_h5(const std::string& path, const scenarios::Scenario& scenario, const RunResult& run, const std::string& resolved_yaml);

// The same into an open, empty file (a result set's staged temporary).
void fill_run_h5(H5::H5File& file, const scenarios::Scenario& scenario, const RunResult& run, const std::string& resolved_yaml);

}  // namespace moesim::results
