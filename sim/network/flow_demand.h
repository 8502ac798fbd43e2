// What a collective puts on each link under the flow model: its pairs (or ring hops) routed over
// the topology, bytes summed per directed link (flow_network.h shares the links between flows).
#pragma once

#include <span>
#include <utility>
#include <vector>

#include "hardware/routing.h"
#include "sim/network/traffic_matrix.h"

namespace moesim::network {

// Bytes a flow puts on each link it uses, by link id.
struct FlowDemand {
  std::vector<std::pair<hardware::LinkId, double>> links;
  bool empty() const { return links.empty(); }
};

// Routes every pair of `traffic` and sums the bytes per link (the router's table for its GPUs,
// link by link). `scratch` is reused between calls.
FlowDemand route_traffic(hardware::Router& router, const TrafficMatrix& traffic, std::vector<double>& scratch);

// A ring collective of `bytes` per participant over `gpus` in `passes` passes (analytic_network.h:
// ring_time) as NCCL runs it: one ring per NIC in use in a node, each carrying its share; every
// hop moves passes x (n-1)/n of its ring's share.
FlowDemand ring_demand(hardware::Router& router, const hardware::ClusterSpec& cluster, std::span<const int> gpus, Bytes bytes, int passes,
                       std::vector<double>& scratch);
inline FlowDemand ring_all_reduce_demand(hardware::Router& router, const hardware::ClusterSpec& cluster, std::span<const int> gpus,
                                         Bytes bytes, std::vector<double>& scratch) {
  return ring_demand(router, cluster, gpus, bytes, 2, scratch);
}

}  // namespace moesim::network
