#include "policies/placement/registry.h"

#include "sim/base/registry.h"

namespace moesim::policies {

const PlacementEntry* find_placement(std::string_view name) { return registry::find(placement_entries(), name); }

std::vector<std::string> placement_names() { return registry::names(placement_entries()); }

std::optional<PlacementProblem> check_node_by_node(std::string_view policy, const PlacementFacts& facts) {
  const int nodes = facts.ep / facts.ranks_per_node;
  if (facts.ep % facts.ranks_per_node == 0 && facts.experts % nodes == 0) return std::nullopt;
  const std::string name(policy);
  return PlacementProblem{"placement", name + " places experts node by node, so model.experts (" + std::to_string(facts.experts) +
                                           ") must split evenly over the " + std::to_string(nodes) + " nodes of an EP group, got " + name};
}

}  // namespace moesim::policies
