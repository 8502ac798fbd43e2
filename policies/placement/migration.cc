#include "policies/placement/migration.h"

#include <algorithm>

namespace moesim::policies {

std::vector<ExpertMove> plan_migration(const Placement& from, const Placement& to) {
  std::vector<ExpertMove> moves;
  for (size_t l = 0; l < to.layers.size(); ++l) {
    for (size_t e = 0; e < to.layers[l].replicas.size(); ++e) {
      const auto& before = from.layers[l].replicas[e];
      const auto source = std::max_element(before.begin(), before.end(), [](const auto& a, const auto& b) { return a.share < b.share; });
      for (const Replica& r : to.layers[l].replicas[e]) {
        const bool held = std::any_of(before.begin(), before.end(), [&](const Replica& b) { return b.ep_rank == r.ep_rank; });
        if (!held) moves.push_back({static_cast<int>(l), static_cast<int>(e), source->ep_rank, r.ep_rank});
      }
    }
  }
  return moves;
}

}  // namespace moesim::policies
