// A scenario's `policies` entries: read from YAML and written back, the keys every policy shares
// here, each policy's and predictor's own keys from its registry entry. Internal to the loader.
#pragma once

#include <yaml-cpp/yaml.h>

#include "scenarios/loader/yaml_reader.h"
#include "scenarios/scenario.h"

namespace moesim::scenarios {

PolicySpec read_policy(MapReader r, int ep);

// The policy of a scenario that names none: static, contiguous.
PolicySpec default_policy();

// Writes `p` as a flow mapping, its keys in the order read_policy documents them.
void emit_policy(YAML::Emitter& out, const PolicySpec& p);

}  // namespace moesim::scenarios
