#include "sim/network/analytic_model.h"

#include "sim/network/all_to_all.h"

namespace moesim::network {

AnalyticModel::AnalyticModel(const hardware::ClusterSpec& cluster)
    : net_(make_analytic_network(cluster)), share_nics_(cluster.network.share_nics) {}

CollectiveCost AnalyticModel::all_to_all(const TrafficMatrix& traffic) {
  const AllToAllCost cost = all_to_all_cost(net_, traffic);
  return {cost.time, cost.intra_node, cost.inter_node, cost.nic_busy, {}, {}};
}

CollectiveCost AnalyticModel::transfers(const TrafficMatrix& traffic) {
  const AllToAllCost cost = all_to_all_time(net_, traffic);
  return {cost.time, cost.intra_node, cost.inter_node, cost.nic_busy, {}, {}};
}

CollectiveCost AnalyticModel::all_reduce(std::span<const int> gpus, Bytes bytes) {
  const AllReduceChoice choice = all_reduce_choice(net_, gpus, bytes);
  return {choice.time, {}, {}, choice.nvls ? Duration() : ring_nic_busy(net_, gpus, bytes, 2), {}, {}};
}

CollectiveCost AnalyticModel::all_gather(std::span<const int> gpus, Bytes bytes) {
  return {ring_time(net_, gpus, bytes, 1), {}, {}, ring_nic_busy(net_, gpus, bytes, 1), {}, {}};
}

engine::TaskId AnalyticModel::add_task(engine::TaskGraph& graph, const CollectiveCost& cost, std::span<const engine::ResourceId> streams,
                                       std::span<const uint32_t> nics, int32_t priority, uint32_t tag) {
  if (!share_nics_ || cost.nic_busy <= Duration() || nics.empty()) return graph.add_task(cost.time, streams, priority, tag);
  const engine::TaskId t = graph.add_shared_task(Duration(), streams, priority, tag);
  nic_sharing_.add(t, cost.time, Min(cost.nic_busy, cost.time), nics);
  return t;
}

engine::SharedCapacity* AnalyticModel::begin_step() {
  if (!share_nics_) return nullptr;
  nic_sharing_.reset();
  return &nic_sharing_;
}

const NetworkModelEntry& network_model_entry_analytic() {
  static const NetworkModelEntry entry{
      .name = "analytic",
      .summary = "hierarchical alpha-beta: each collective its busiest port plus latency, sharing NICs with those beside it",
      .make = [](const hardware::ClusterSpec& cluster) -> std::unique_ptr<NetworkModel> {
        return std::make_unique<AnalyticModel>(cluster);
      },
      .memory = [](const hardware::ClusterSpec&, int) { return 0.0; },
  };
  return entry;
}

}  // namespace moesim::network
