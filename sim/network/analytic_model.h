// The analytic network model: each collective takes its busiest port plus latency
// (analytic_network.h, with the all-to-all algorithms of all_to_all.h), and, where
// cluster.network.share_nics, shares its GPUs' NICs with the collectives beside it (nic_sharing.h).
#pragma once

#include "sim/network/analytic_network.h"
#include "sim/network/network_model.h"
#include "sim/network/nic_sharing.h"

namespace moesim::network {

class AnalyticModel : public NetworkModel {
 public:
  explicit AnalyticModel(const hardware::ClusterSpec& cluster);
  CollectiveCost all_to_all(const TrafficMatrix& traffic) override;
  CollectiveCost transfers(const TrafficMatrix& traffic) override;
  CollectiveCost all_reduce(std::span<const int> gpus, Bytes bytes) override;
  CollectiveCost all_gather(std::span<const int> gpus, Bytes bytes) override;
  engine::TaskId add_task(engine::TaskGraph& graph, const CollectiveCost& cost, std::span<const engine::ResourceId> streams,
                          std::span<const uint32_t> nics, int32_t priority, uint32_t tag) override;
  engine::SharedCapacity* begin_step() override;

 protected:
  AnalyticNetwork net_;

 private:
  bool share_nics_;
  NicSharing nic_sharing_;
};

}  // namespace moesim::network
