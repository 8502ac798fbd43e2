#include "sim/step/dispatch_cost.h"

#include <algorithm>

namespace moesim {
namespace {

// The most any participant sends or receives, its own share excluded.
double busiest_port(const network::TrafficMatrix& bytes) {
  const size_t n = bytes.size();
  double most = 0;
  for (size_t i = 0; i < n; ++i) {
    double sent = 0, received = 0;
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      sent += bytes.at(i, j);
      received += bytes.at(j, i);
    }
    most = std::max({most, sent, received});
  }
  return most;
}

// Every copy through the GPU's NIC, the peers of its own node included (DeepEP's low-latency
// kernels). The flow model sees it as a fixed duration: its bytes do not share the fabric's links.
network::CollectiveCost through_nic(const StepConfig& config, const DispatcherEntry& dispatcher, const network::TrafficMatrix& bytes) {
  const auto& nic = config.cluster.nic.link;
  network::CollectiveCost cost;
  for (size_t i = 0; i < bytes.size(); ++i)
    for (size_t j = 0; j < bytes.size(); ++j) cost.inter_node += Bytes(i == j ? 0.0 : bytes.at(i, j));
  const int peers = static_cast<int>(bytes.size()) - 1;
  cost.nic_busy = Bytes(busiest_port(bytes)) / nic.effective();
  cost.time = cost.nic_busy + nic.latency + dispatcher.call_overhead + dispatcher.peer_overhead * peers;
  cost.tail.push_back(cost.time);
  return cost;
}

}  // namespace

bool within_one_node(const hardware::ClusterSpec& cluster, std::span<const int> gpus) {
  return std::all_of(gpus.begin(), gpus.end(), [&](int g) { return cluster.node_of(g) == cluster.node_of(gpus.front()); });
}

Bandwidth comm_sm_rate(const hardware::GpuSpec& gpu, bool intranode) {
  return intranode ? gpu.comm_sm_bandwidth_intranode : gpu.comm_sm_bandwidth;
}

void lengthen(network::CollectiveCost& cost, Duration extra) {
  if (extra <= Duration()) return;
  cost.time += extra;
  cost.tail.push_back(extra);
}

network::CollectiveCost dispatch_payload(const StepConfig& config, const DispatcherEntry& dispatcher, network::NetworkModel& network,
                                         const network::TrafficMatrix& bytes) {
  // Every path returns this one object, so it is built in place, never moved (GCC 12 warns falsely
  // on moving the small_vector inside).
  network::CollectiveCost cost = dispatcher.through_nic ? through_nic(config, dispatcher, bytes) : network.all_to_all(bytes);
  if (dispatcher.through_nic || !dispatcher.sm_capped) return cost;
  const Bytes busiest(busiest_port(bytes));
  const bool intranode = within_one_node(config.cluster, bytes.gpus());
  // DeepEP's intranode kernel copies with its SMs' stores, which reach less of NVLink than NCCL.
  if (intranode && dispatcher.nvlink_share > 0)
    lengthen(cost, busiest / (config.cluster.intra_node.link.effective() * dispatcher.nvlink_share) - cost.time);
  if (config.comm_sms > 0) lengthen(cost, busiest / (comm_sm_rate(config.cluster.gpu, intranode) * config.comm_sms) - cost.time);
  return cost;
}

network::CollectiveCost count_exchange(const StepConfig& config, const DispatcherEntry& dispatcher, network::NetworkModel& network,
                                       const std::vector<int>& gpus) {
  if (!dispatcher.exchanges_counts || gpus.size() < 2) return {};
  network::TrafficMatrix counts(gpus);
  const double per_peer = 4.0 * config.model.experts / static_cast<double>(gpus.size());
  for (size_t i = 0; i < gpus.size(); ++i)
    for (size_t j = 0; j < gpus.size(); ++j) counts.at(i, j) = i == j ? 0.0 : per_peer;
  return network.all_to_all(counts);
}

}  // namespace moesim
