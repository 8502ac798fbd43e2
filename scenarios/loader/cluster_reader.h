// The scenario's `cluster:` section: a preset, and the keys that override its GPUs, links, fabric
// and network model.
#pragma once

#include "hardware/specs.h"
#include "scenarios/loader/yaml_reader.h"

namespace moesim::scenarios {

hardware::ClusterSpec read_cluster(MapReader r);

}  // namespace moesim::scenarios
