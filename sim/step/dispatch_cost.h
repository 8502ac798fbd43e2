// What one dispatch or combine of a layer costs under its dispatcher (dispatcher.h): the payload on
// the network model, held to the dispatcher's own limits, and the count exchange before it.
#pragma once

#include <span>

#include "hardware/specs.h"
#include "sim/network/network_model.h"
#include "sim/network/traffic_matrix.h"
#include "sim/step/dispatcher.h"
#include "sim/step/step_config.h"

namespace moesim {

// The transfer of `bytes` (one dispatch or one combine of an EP group): on the network model, then
// no faster than the dispatcher's SMs move it (sm_capped) or, for a dispatcher that sends every
// copy through the NIC, at the GPU's NIC rate plus its fixed costs per call and per peer.
network::CollectiveCost dispatch_payload(const StepConfig& config, const DispatcherEntry& dispatcher, network::NetworkModel& network,
                                         const network::TrafficMatrix& bytes);

// The count/layout exchange before a dispatch (an int32 per expert of each destination GPU):
// latency-bound; free for a dispatcher that exchanges nothing.
network::CollectiveCost count_exchange(const StepConfig& config, const DispatcherEntry& dispatcher, network::NetworkModel& network,
                                       const std::vector<int>& gpus);

// DeepEP's normal kernels (sm_capped): the intranode kernel runs where every GPU of the EP group
// is on one node, the internode kernel otherwise; each moves comm_sm_rate() per SM.
bool within_one_node(const hardware::ClusterSpec& cluster, std::span<const int> gpus);
Bandwidth comm_sm_rate(const hardware::GpuSpec& gpu, bool intranode);

// `cost` taking `extra` longer, under the analytic and the flow model alike.
void lengthen(network::CollectiveCost& cost, Duration extra);

}  // namespace moesim
