#include "sim/network/network_model.h"

#include <stdexcept>

#include "sim/base/registry.h"

namespace moesim::network {

const NetworkModelEntry* find_network_model(std::string_view name) { return registry::find(network_model_entries(), name); }

std::vector<std::string> network_model_names() { return registry::names(network_model_entries()); }

std::unique_ptr<NetworkModel> make_network_model(const hardware::ClusterSpec& cluster) {
  const NetworkModelEntry* entry = find_network_model(cluster.network.model);
  if (!entry) throw std::invalid_argument("unknown network model '" + cluster.network.model + "'");
  return entry->make(cluster);
}

}  // namespace moesim::network
