#include "policies/placement/registry.h"

namespace moesim::policies {

const PlacementEntry* find_placement(std::string_view name) {
  for (const PlacementEntry* entry : placement_entries()) {
    if (entry->name == name) return entry;
  }
  return nullptr;
}

std::vector<std::string> placement_names() {
  std::vector<std::string> names;
  for (const PlacementEntry* entry : placement_entries()) names.emplace_back(entry->name);
  return names;
}

std::optional<PlacementProblem> check_node_by_node(std::string_view policy, const PlacementFacts& facts) {
  const int nodes = facts.ep / facts.ranks_per_node;
  if (facts.ep % facts.ranks_per_node == 0 && facts.experts % nodes == 0) return std::nullopt;
  const std::string name(policy);
  return PlacementProblem{"placement", name + " places experts node by node, so model.experts (" + std::to_string(facts.experts) +
                                           ") must split evenly over the " + std::to_string(nodes) + " nodes of an EP group, got " + name};
}

}  // namespace moesim::policies
