#include "policies/placement/affinity.h"

#include <limits>
#include <numeric>
#include <stdexcept>

#include "policies/placement/packing.h"

namespace moesim::policies {
namespace {

// The graph of co-activation between parts: the weight of {p, q} sums the edges between them.
CoactivationGraph quotient(const CoactivationGraph& graph, std::span<const int> part_of, int parts) {
  std::vector<double> between(static_cast<size_t>(parts) * parts, 0.0);
  const auto weight = boost::get(boost::edge_weight, graph);
  for (auto [it, end] = boost::edges(graph); it != end; ++it) {
    const int p = part_of[boost::source(*it, graph)], q = part_of[boost::target(*it, graph)];
    if (p == q) continue;
    between[static_cast<size_t>(p) * parts + q] += weight[*it];
    between[static_cast<size_t>(q) * parts + p] += weight[*it];
  }
  return coactivation_graph(between, parts);
}

}  // namespace

std::vector<int> affinity_pack(std::span<const double> loads, const CoactivationGraph& graph, const AffinityShape& shape,
                               std::span<const int> current) {
  const int experts = static_cast<int>(loads.size()), ranks = shape.ranks, per_node = shape.ranks_per_node;
  if (per_node < 1 || ranks % per_node != 0 || experts % ranks != 0 || static_cast<int>(boost::num_vertices(graph)) != experts) {
    throw std::invalid_argument("affinity_pack: experts must split evenly over ranks, and ranks over nodes");
  }
  if (shape.max_imbalance < 1) throw std::invalid_argument("affinity_pack: max_imbalance must be at least 1");
  const int nodes = ranks / per_node;

  // 1. Experts to ranks.
  std::vector<int> all(experts);
  std::iota(all.begin(), all.end(), 0);
  std::vector<int> part_of = pack_experts(loads, ranks, experts / ranks, {});
  const double mean = std::accumulate(loads.begin(), loads.end(), 0.0) / ranks;
  const double bound = std::max(shape.max_imbalance * mean, max_rank_load(loads, part_of, ranks));
  kernighan_lin(graph, all, loads, ranks, bound, part_of);
  // Refining the current placement, when it is within the bound, may keep more (and moves less).
  if (!current.empty() && max_rank_load(loads, current, ranks) <= bound) {
    std::vector<int> refined(current.begin(), current.end());
    kernighan_lin(graph, all, loads, ranks, bound, refined);
    if (kept_coactivation(graph, refined) >= kept_coactivation(graph, part_of)) part_of = std::move(refined);
  }

  // 2. Ranks to nodes.
  std::vector<int> parts(ranks), node_of_part(ranks);
  std::iota(parts.begin(), parts.end(), 0);
  for (int p = 0; p < ranks; ++p) node_of_part[p] = p / per_node;
  if (nodes > 1) {
    std::vector<double> part_load(ranks, 0.0);
    for (int e = 0; e < experts; ++e) part_load[part_of[e]] += loads[e];
    kernighan_lin(quotient(graph, part_of, ranks), parts, part_load, nodes, std::numeric_limits<double>::infinity(), node_of_part);
  }

  // 3. Names that move as little as possible.
  std::vector<int> node_of(experts);
  for (int e = 0; e < experts; ++e) node_of[e] = node_of_part[part_of[e]];
  if (!current.empty()) {
    std::vector<int> current_node;
    for (int r : current) current_node.push_back(r / per_node);
    relabel_parts(node_of, current_node, nodes);
  }
  std::vector<int> rank_of(experts);
  for (int n = 0; n < nodes; ++n) {
    std::vector<int> members, local_of_part(ranks, -1), local, current_local;
    int locals = 0;
    for (int e = 0; e < experts; ++e) {
      if (node_of[e] != n) continue;
      members.push_back(e);
      if (local_of_part[part_of[e]] < 0) local_of_part[part_of[e]] = locals++;
      local.push_back(local_of_part[part_of[e]]);
      if (!current.empty()) current_local.push_back(current[e] - n * per_node);  // off this node: outside [0, per_node)
    }
    if (!current.empty()) relabel_parts(local, current_local, per_node);
    for (size_t i = 0; i < members.size(); ++i) rank_of[members[i]] = n * per_node + local[i];
  }
  return rank_of;
}

}  // namespace moesim::policies
