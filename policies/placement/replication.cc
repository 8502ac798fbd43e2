#include "policies/placement/replication.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "policies/placement/eplb.h"
#include "policies/placement/packing.h"

namespace moesim::policies {

double max_rank_load(std::span<const double> loads, const LayerPlacement& placement, int ranks) {
  std::vector<double> total(ranks, 0.0);
  for (size_t e = 0; e < loads.size(); ++e) {
    for (const Replica& r : placement.replicas[e]) total[r.ep_rank] += loads[e] * r.share;
  }
  return *std::max_element(total.begin(), total.end());
}

LayerPlacement replicate_layer(std::span<const double> loads, const ReplicationShape& shape) {
  if (shape.mode != ReplicationMode::kNodeByNode) {
    const EplbShape eplb{shape.ranks * shape.slots, shape.groups, shape.ranks / shape.ranks_per_node, shape.ranks};
    const EplbMode mode = shape.mode == ReplicationMode::kHierarchical ? EplbMode::kHierarchical : EplbMode::kGlobal;
    return layer_placement(rebalance_experts({std::vector<double>(loads.begin(), loads.end())}, eplb, mode), 0, shape.ranks);
  }
  const int experts = static_cast<int>(loads.size());
  const int nodes = shape.ranks / shape.ranks_per_node;
  if (nodes < 1 || shape.ranks % shape.ranks_per_node != 0 || experts % nodes != 0 || shape.replicas < 0 ||
      experts + shape.replicas > shape.ranks * shape.slots) {
    throw std::invalid_argument("replicate_layer: the experts and replicas do not fit the slots");
  }
  const int per_node = experts / nodes;
  // 1. Experts to nodes.
  std::vector<int> node_of(experts, 0);
  if (nodes > 1) node_of = pack_experts(loads, nodes, per_node, {});

  LayerPlacement placement;
  placement.replicas.resize(experts);
  const int node_slots = shape.ranks_per_node * shape.slots;
  for (int n = 0; n < nodes; ++n) {
    std::vector<int> members;
    for (int e = 0; e < experts; ++e) {
      if (node_of[e] == n) members.push_back(e);
    }
    // 2. The node's share of the replicas, to the most loaded per replica.
    const int extra = shape.replicas / nodes + (n < shape.replicas % nodes ? 1 : 0);
    std::vector<int> count(members.size(), 1);
    for (int k = 0; k < extra; ++k) {
      size_t best = 0;
      for (size_t i = 1; i < members.size(); ++i) {
        if (loads[members[i]] / count[i] > loads[members[best]] / count[best]) best = i;
      }
      ++count[best];
    }
    // 3. Replicas to the node's ranks; empty slots are replicas of nothing.
    std::vector<double> item_load;
    std::vector<int> item_expert;
    for (size_t i = 0; i < members.size(); ++i) {
      for (int c = 0; c < count[i]; ++c) {
        item_load.push_back(loads[members[i]] / count[i]);
        item_expert.push_back(members[i]);
      }
    }
    while (static_cast<int>(item_load.size()) < node_slots) {
      item_load.push_back(0.0);
      item_expert.push_back(-1);
    }
    const auto rank_of = pack_experts(item_load, shape.ranks_per_node, shape.slots, {});
    for (size_t i = 0; i < item_expert.size(); ++i) {
      if (item_expert[i] < 0) continue;
      auto& replicas = placement.replicas[item_expert[i]];
      const int rank = n * shape.ranks_per_node + rank_of[i];
      const double share = 1.0 / count[std::find(members.begin(), members.end(), item_expert[i]) - members.begin()];
      const auto same = std::find_if(replicas.begin(), replicas.end(), [&](const Replica& r) { return r.ep_rank == rank; });
      if (same != replicas.end())
        same->share += share;
      else
        replicas.push_back({rank, share});
    }
  }
  for (auto& replicas : placement.replicas) {
    std::sort(replicas.begin(), replicas.end(), [](const Replica& a, const Replica& b) { return a.ep_rank < b.ep_rank; });
  }
  return placement;
}

}  // namespace moesim::policies
