#include "hardware/fabric.h"

#include <stdexcept>

#include "sim/base/registry.h"

namespace moesim::hardware {

const FabricEntry* find_fabric(std::string_view name) { return registry::find(fabric_entries(), name); }

std::vector<std::string> fabric_names() { return registry::names(fabric_entries()); }

const FabricEntry& fabric_of(const ClusterSpec& spec) {
  const FabricEntry* entry = find_fabric(spec.fabric.kind);
  if (!entry) throw std::invalid_argument("unknown fabric kind '" + spec.fabric.kind + "'");
  return *entry;
}

int nodes_per_leaf(const ClusterSpec& spec) {
  return fabric_of(spec).top_of_rack ? spec.fabric.leaf_ports / spec.nic.count : spec.fabric.leaf_ports;
}

int default_spines(const ClusterSpec& spec) { return fabric_of(spec).plane_per_rail ? 1 : spec.nic.count; }

}  // namespace moesim::hardware
