#include "sim/network/analytic_model.h"

#include "sim/network/all_to_all.h"

namespace moesim::network {

AnalyticModel::AnalyticModel(const hardware::ClusterSpec& cluster) : net_(make_analytic_network(cluster)) {}

CollectiveCost AnalyticModel::all_to_all(const TrafficMatrix& traffic) {
  const AllToAllCost cost = all_to_all_cost(net_, traffic);
  return {cost.time, cost.intra_node, cost.inter_node, {}, {}};
}

CollectiveCost AnalyticModel::transfers(const TrafficMatrix& traffic) {
  const AllToAllCost cost = all_to_all_time(net_, traffic);
  return {cost.time, cost.intra_node, cost.inter_node, {}, {}};
}

CollectiveCost AnalyticModel::all_reduce(std::span<const int> gpus, Bytes bytes) {
  return {all_reduce_choice(net_, gpus, bytes).time, {}, {}, {}, {}};
}

CollectiveCost AnalyticModel::all_gather(std::span<const int> gpus, Bytes bytes) {
  return {ring_time(net_, gpus, bytes, 1), {}, {}, {}, {}};
}

engine::TaskId AnalyticModel::add_task(engine::TaskGraph& graph, const CollectiveCost& cost, std::span<const engine::ResourceId> streams,
                                       int32_t priority, uint32_t tag) {
  return graph.add_task(cost.time, streams, priority, tag);
}

const NetworkModelEntry& network_model_entry_analytic() {
  static const NetworkModelEntry entry{
      .name = "analytic",
      .summary = "hierarchical alpha-beta: each collective its busiest port plus latency",
      .make = [](const hardware::ClusterSpec& cluster) -> std::unique_ptr<NetworkModel> {
        return std::make_unique<AnalyticModel>(cluster);
      },
      .memory = [](const hardware::ClusterSpec&, int) { return 0.0; },
  };
  return entry;
}

}  // namespace moesim::network
