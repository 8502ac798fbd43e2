// What `moesim topo` and `moesim validate` print about a scenario's parallel layout (which GPU
// holds which coordinate, and its groups) and about each pipeline stage's memory per GPU.
#pragma once

#include <string>

#include "scenarios/scenario.h"

namespace moesim::cli {

// Lines, each starting with `prefix` ("  " for text, "# " for YAML comments).
std::string layout_report(const scenarios::Scenario& s, const std::string& prefix);
std::string memory_report(const scenarios::Scenario& s, const std::string& prefix);

}  // namespace moesim::cli
