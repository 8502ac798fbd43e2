// The analytic network model: each collective takes a fixed time, its busiest port plus latency
// (analytic_network.h, with the all-to-all algorithms of all_to_all.h).
#pragma once

#include "sim/network/analytic_network.h"
#include "sim/network/network_model.h"

namespace moesim::network {

class AnalyticModel : public NetworkModel {
 public:
  explicit AnalyticModel(const hardware::ClusterSpec& cluster);
  CollectiveCost all_to_all(const TrafficMatrix& traffic) override;
  CollectiveCost transfers(const TrafficMatrix& traffic) override;
  CollectiveCost all_reduce(std::span<const int> gpus, Bytes bytes) override;
  CollectiveCost all_gather(std::span<const int> gpus, Bytes bytes) override;
  engine::TaskId add_task(engine::TaskGraph& graph, const CollectiveCost& cost, std::span<const engine::ResourceId> streams,
                          int32_t priority, uint32_t tag) override;
  engine::SharedCapacity* begin_step() override { return nullptr; }

 protected:
  AnalyticNetwork net_;
};

}  // namespace moesim::network
