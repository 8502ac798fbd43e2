// All-to-all algorithms (cluster.network.all_to_all), as phases run one after the other:
//   flat: every GPU sends to every peer directly, at once (NCCL's grouped send/receive);
//   hierarchical: the 2DH scheme of Tutel (arXiv 2206.03382): first an intra-node exchange over
//     NVLink that leaves with each GPU everything its node sends to GPUs of its local index, then
//     an exchange between those peers across nodes, with one message per peer node instead of one
//     per peer GPU;
//   pairwise: n-1 rounds, in round k participant i sends to participant i+k (mod n).
// Each phase costs its busiest port and latency (analytic_network.h), plus the message overhead
// for every peer beyond the first that its busiest sender posts to. Fewer, larger messages are
// what hierarchical buys with the NVLink bytes of its first phase; which wins depends on scale
// and message size (README, All-to-all algorithms).
#pragma once

#include <functional>

#include "hardware/specs.h"
#include "sim/network/analytic_network.h"
#include "sim/network/traffic_matrix.h"

namespace moesim::network {

// Hierarchical's two phases: the intra-node gather, then the exchange between peers.
struct HierarchicalPhases {
  TrafficMatrix gather, exchange;
};
HierarchicalPhases hierarchical_phases(const hardware::ClusterSpec& cluster, const TrafficMatrix& traffic);

// Calls fn on each phase of flat (the traffic itself, not a copy: a step costs thousands of
// all-to-alls) or hierarchical, in order. Pairwise has n-1 permutations; its cost comes from
// all_to_all_cost directly.
template <class Fn>
void for_each_phase(hardware::AllToAllAlgorithm algorithm, const hardware::ClusterSpec& cluster, const TrafficMatrix& traffic, Fn&& fn) {
  if (algorithm != hardware::AllToAllAlgorithm::kHierarchical) {
    fn(traffic);
    return;
  }
  const HierarchicalPhases phases = hierarchical_phases(cluster, traffic);
  fn(phases.gather);
  fn(phases.exchange);
}

// What a phase costs beyond moving its bytes: its latency, and the message overhead for every
// peer beyond the first that its busiest sender posts to.
Duration fixed_cost(const AllToAllCost& phase, Duration message_overhead);

// The analytic cost of `traffic` under the cluster's all-to-all algorithm: the phases' times
// summed, bytes summed over phases (hierarchical moves some twice).
AllToAllCost all_to_all_cost(const AnalyticNetwork& net, const TrafficMatrix& traffic);

// The same, handing each phase of for_each_phase() to `phase` with its cost alone (before the
// message overhead) as it goes, so that a model that prices the phases again does not cost them
// twice. Pairwise's one phase is the whole matrix, costed for this.
using PhaseVisitor = std::function<void(const TrafficMatrix& phase, const AllToAllCost& alone)>;
AllToAllCost all_to_all_cost(const AnalyticNetwork& net, const TrafficMatrix& traffic, const PhaseVisitor& phase);

}  // namespace moesim::network
