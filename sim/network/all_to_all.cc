#include "sim/network/all_to_all.h"

#include <algorithm>
#include <map>
#include <vector>

namespace moesim::network {
namespace {

// Participant index by (node, local index), -1 where that GPU does not take part.
std::map<std::pair<int, int>, int> index_by_position(const hardware::ClusterSpec& c, const std::vector<int>& gpus) {
  std::map<std::pair<int, int>, int> out;
  for (size_t i = 0; i < gpus.size(); ++i) out[{c.node_of(gpus[i]), c.local_index(gpus[i])}] = static_cast<int>(i);
  return out;
}

AllToAllCost with_overhead(AllToAllCost cost, Duration message_overhead) {
  cost.time += fixed_cost(cost, message_overhead) - cost.latency;
  return cost;
}

void add(AllToAllCost& total, const AllToAllCost& phase) {
  total.time += phase.time;
  total.latency += phase.latency;
  total.intra_node += phase.intra_node;
  total.inter_node += phase.inter_node;
  total.nic_busy += phase.nic_busy;
  total.messages = std::max(total.messages, phase.messages);
}

}  // namespace

Duration fixed_cost(const AllToAllCost& phase, Duration message_overhead) {
  return phase.latency + (phase.messages > 1 ? message_overhead * static_cast<int64_t>(phase.messages - 1) : Duration());
}

HierarchicalPhases hierarchical_phases(const hardware::ClusterSpec& c, const TrafficMatrix& traffic) {
  const auto& gpus = traffic.gpus();
  const auto position = index_by_position(c, gpus);
  HierarchicalPhases phases{TrafficMatrix(gpus), TrafficMatrix(gpus)};
  for (size_t s = 0; s < traffic.size(); ++s) {
    for (size_t d = 0; d < traffic.size(); ++d) {
      const double b = traffic.at(s, d);
      if (s == d || b <= 0) continue;
      // The GPU of the sender's node with the destination's local index collects it; where that
      // GPU does not take part, the sender sends directly.
      const auto proxy = position.find({c.node_of(gpus[s]), c.local_index(gpus[d])});
      const size_t p = proxy == position.end() ? s : static_cast<size_t>(proxy->second);
      if (p != s) phases.gather.at(s, p) += b;
      if (p != d) phases.exchange.at(p, d) += b;
    }
  }
  return phases;
}

AllToAllCost all_to_all_cost(const AnalyticNetwork& net, const TrafficMatrix& traffic) { return all_to_all_cost(net, traffic, {}); }

AllToAllCost all_to_all_cost(const AnalyticNetwork& net, const TrafficMatrix& traffic, const PhaseVisitor& visit) {
  const hardware::ClusterSpec& c = net.cluster;
  const Duration overhead = c.network.message_overhead;
  AllToAllCost total;
  if (c.network.all_to_all != hardware::AllToAllAlgorithm::kPairwise) {
    for_each_phase(c.network.all_to_all, c, traffic, [&](const TrafficMatrix& phase) {
      const AllToAllCost alone = all_to_all_time(net, phase);
      if (visit) visit(phase, alone);
      add(total, with_overhead(alone, overhead));
    });
    return total;
  }
  if (visit) visit(traffic, all_to_all_time(net, traffic));
  const size_t n = traffic.size();
  std::vector<Transfer> round;
  for (size_t k = 1; k < n; ++k) {
    round.clear();
    for (size_t i = 0; i < n; ++i) {
      const size_t d = (i + k) % n;
      if (traffic.at(i, d) > 0) round.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(d), traffic.at(i, d)});
    }
    if (!round.empty()) add(total, with_overhead(transfers_time(net, traffic.gpus(), round), overhead));
  }
  return total;
}

}  // namespace moesim::network
