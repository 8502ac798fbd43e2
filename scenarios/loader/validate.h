#pragma once

#include "scenarios/loader/yaml_reader.h"
#include "scenarios/scenario.h"

namespace moesim::scenarios {

// Checks that values agree with each other (parallelism vs GPU count, experts vs EP, ...).
// Throws ScenarioError naming the key whose value is inconsistent.
void validate(const Scenario& s, const SourceMap& sources);

}  // namespace moesim::scenarios
