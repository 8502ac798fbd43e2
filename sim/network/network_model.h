// The network behind one interface, chosen per scenario (cluster.network.model):
//   analytic: each collective takes a fixed time, its busiest port plus latency
//             (analytic_network.h, all_to_all.h);
//   flow:     each collective's bytes are routed over the topology and share links, max-min fairly,
//             with whatever else runs at the same time (flow_network.h), so its time is known
//             only once the step is executed.
// The step model costs its collectives here and adds them to its task graph here; it does not
// know which model it has.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "hardware/specs.h"
#include "sim/engine/task_graph.h"
#include "sim/network/flow_network.h"
#include "sim/network/traffic_matrix.h"

namespace moesim::network {

// One collective as a network model costs it.
struct CollectiveCost {
  Duration time;                 // alone on the network (the analytic model's time, under both)
  Bytes intra_node, inter_node;  // all-to-all bytes that stay inside a node / cross the fabric
  // Flow model: each phase's demand on the links, run one after the other, then each phase's fixed
  // tail (latency, message overhead).
  std::vector<FlowDemand> demand;
  std::vector<Duration> tail;
};

class NetworkModel {
 public:
  virtual ~NetworkModel() = default;
  // An all-to-all of `traffic` under the cluster's algorithm (flat, hierarchical, pairwise).
  virtual CollectiveCost all_to_all(const TrafficMatrix& traffic) = 0;
  // Point-to-point transfers, all at once (moving expert state).
  virtual CollectiveCost transfers(const TrafficMatrix& traffic) = 0;
  // A ring all-reduce of `bytes` on each of `gpus`.
  virtual CollectiveCost all_reduce(std::span<const int> gpus, Bytes bytes) = 0;
  // Adds `cost` to `graph` as one task on `streams`; its demand must outlive the step.
  virtual engine::TaskId add_task(engine::TaskGraph& graph, const CollectiveCost& cost, std::span<const engine::ResourceId> streams,
                                  int32_t priority, uint32_t tag) = 0;
  // Starts a step: what the executor shares among the collectives running at once (null when
  // nothing is shared).
  virtual engine::SharedCapacity* begin_step() = 0;
};

// The model cluster.network.model names.
std::unique_ptr<NetworkModel> make_network_model(const hardware::ClusterSpec& cluster);

}  // namespace moesim::network
