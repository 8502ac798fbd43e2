// Where experts live, as the source ranks see it: the plain data a placement-aware routing mode
// needs (LocMoE's locality, C2R's destinations). The runner builds it from a placement and the
// cluster; gating never calls placement.
#pragma once

#include <vector>

namespace moesim::gating {

struct RoutingView {
  int ep = 0;                     // ranks per expert-parallel group; 0: no placement given
  std::vector<int> node_of_rank;  // [rank]: the node of the GPU that rank r runs on
  // [moe layer][expert]: the EP ranks holding a replica, the largest share first. Every EP
  // group holds the same experts: EP rank j of rank r's group is rank (r / ep) * ep + j.
  std::vector<std::vector<std::vector<int>>> hosts;

  bool has_placement() const { return ep > 0; }
  // The EP rank that receives rank r's tokens for `expert` (its first replica).
  int host(int layer, int expert) const { return hosts[layer][expert].front(); }
};

}  // namespace moesim::gating
