// Test helper: H100 clusters for the flow-level network's tests.
#pragma once

#include "hardware/presets.h"
#include "hardware/specs.h"

namespace moesim::network {

inline hardware::ClusterSpec h100(int nodes) {
  hardware::ClusterSpec c = *hardware::cluster_preset("h100-dgx");
  c.nodes = nodes;
  return c;
}

// Two nodes per top-of-rack leaf (16 NIC ports), bytes spread over every uplink.
inline hardware::ClusterSpec fat_tree(int nodes, double oversubscription) {
  hardware::ClusterSpec c = h100(nodes);
  c.fabric.kind = "fat_tree";
  c.fabric.leaf_ports = 16;
  c.fabric.oversubscription = oversubscription;
  c.fabric.routing = hardware::FabricRouting::kAdaptive;
  return c;
}

}  // namespace moesim::network
