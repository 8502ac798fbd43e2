// The flow network model: collectives' bytes routed over the topology, sharing links max-min
// fairly with whatever else runs (flow_network.h). The analytic costs still give each
// collective's bytes and its time alone.
#include <algorithm>
#include <memory>

#include "hardware/routing.h"
#include "hardware/topology.h"
#include "sim/network/all_to_all.h"
#include "sim/network/analytic_model.h"

namespace moesim::network {
namespace {

class FlowModel final : public AnalyticModel {
 public:
  explicit FlowModel(const hardware::ClusterSpec& cluster)
      : AnalyticModel(cluster),
        topology_(std::make_unique<hardware::Topology>(hardware::build_topology(cluster))),
        router_(std::make_unique<hardware::Router>(*topology_, cluster.fabric.routing)) {
    std::vector<double> capacity(router_->link_count());
    for (hardware::LinkId l = 0; l < capacity.size(); ++l) capacity[l] = router_->capacity(l);
    flows_ = std::make_unique<FlowNetwork>(std::move(capacity));
  }
  CollectiveCost all_to_all(const TrafficMatrix& traffic) override {
    CollectiveCost cost;
    const AllToAllCost alone = all_to_all_cost(net_, traffic, [&](const TrafficMatrix& phase, const AllToAllCost& phase_alone) {
      cost.demand.push_back(route_traffic(*router_, phase, scratch_));
      cost.tail.push_back(fixed_cost(phase_alone, net_.cluster.network.message_overhead));
    });
    cost.time = alone.time;
    cost.intra_node = alone.intra_node;
    cost.inter_node = alone.inter_node;
    return cost;
  }
  CollectiveCost transfers(const TrafficMatrix& traffic) override {
    CollectiveCost cost = AnalyticModel::transfers(traffic);
    cost.demand.push_back(route_traffic(*router_, traffic, scratch_));
    cost.tail.push_back(all_to_all_time(net_, traffic).latency);
    return cost;
  }
  CollectiveCost all_reduce(std::span<const int> gpus, Bytes bytes) override {
    const AllReduceChoice choice = all_reduce_choice(net_, gpus, bytes);
    CollectiveCost cost{choice.time, {}, {}, {}, {}, {}};
    if (choice.nvls) {
      // NVLS loads each GPU's NVLink port with the buffer once each way, at its own efficiency:
      // as flows, one pass round a ring of the GPUs (each port then carries (n-1)/n of the bytes),
      // of the bytes that take as long at the link's efficiency.
      const auto& intra = net_.cluster.intra_node;
      const double n = static_cast<double>(gpus.size());
      const double equivalent = bytes.count() * n / (n - 1) * intra.link.efficiency / intra.nvls_efficiency;
      cost.demand.push_back(ring_demand(*router_, net_.cluster, gpus, Bytes(equivalent), 1, scratch_));
      cost.tail.push_back(nvls_all_reduce_latency(net_));
      return cost;
    }
    cost.demand.push_back(ring_all_reduce_demand(*router_, net_.cluster, gpus, bytes, scratch_));
    cost.tail.push_back(ring_all_reduce_latency(net_, gpus));
    return cost;
  }
  CollectiveCost all_gather(std::span<const int> gpus, Bytes bytes) override {
    CollectiveCost cost = AnalyticModel::all_gather(gpus, bytes);
    cost.demand.push_back(ring_demand(*router_, net_.cluster, gpus, bytes, 1, scratch_));
    cost.tail.push_back(ring_latency(net_, gpus, 1));
    return cost;
  }
  engine::TaskId add_task(engine::TaskGraph& graph, const CollectiveCost& cost, std::span<const engine::ResourceId> streams,
                          std::span<const uint32_t>, int32_t priority, uint32_t tag) override {
    Duration tail;
    for (Duration d : cost.tail) tail += d;
    const engine::TaskId t = graph.add_shared_task(tail, streams, priority, tag);
    flows_->set_demand(t, cost.demand);
    return t;
  }
  engine::SharedCapacity* begin_step() override {
    flows_->reset();
    return flows_.get();
  }

 private:
  std::unique_ptr<hardware::Topology> topology_;
  std::unique_ptr<hardware::Router> router_;
  std::unique_ptr<FlowNetwork> flows_;
  std::vector<double> scratch_;
};

}  // namespace

const NetworkModelEntry& network_model_entry_flow() {
  static const NetworkModelEntry entry{
      .name = "flow",
      .summary = "max-min fair flows over the topology: collectives share links",
      .shares_links = true,
      .make = [](const hardware::ClusterSpec& cluster) -> std::unique_ptr<NetworkModel> { return std::make_unique<FlowModel>(cluster); },
      // Every vertex's latency to every leaf (hardware/routing.h), and the routes of each group's
      // pairs: a few links each, plus their place in the pair map and the group's table.
      .memory =
          [](const hardware::ClusterSpec& cluster, int group_gpus) {
            const double gpus = cluster.gpu_count();
            const hardware::FabricLayout fabric = hardware::fabric_layout(cluster);
            const double vertices = 2 * gpus + 2.0 * cluster.nodes + static_cast<double>(fabric.leaves + fabric.spines);
            return vertices * static_cast<double>(fabric.leaves) * 8 + gpus * std::max(group_gpus, 1) * 160;
          },
  };
  return entry;
}

}  // namespace moesim::network
