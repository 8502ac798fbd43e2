// Hierarchical alpha-beta cost of collectives: pure functions of the cluster and the traffic.
//
// All-to-all: every GPU's intra-node sends and receives are bounded by its intra-node link
// (per direction, after protocol efficiency), split into its own group and other groups (HCCS);
// every NIC's inter-node sends and receives by its bandwidth, summed over the GPUs that share it
// (all-to-all cannot spread one GPU over several NICs). Intra- and inter-node transfers proceed
// concurrently, so the time is that of the busiest port, plus the latency of the farthest class
// of peer used. O(n^2) in the participants; exact for a non-blocking fabric.
//
// Ring all-reduce: 2(n-1)/n of the buffer crosses the ring's slowest link; NCCL runs one ring per
// NIC in use, so across nodes the ring bandwidth is min(intra-node link, rings x NIC).
#pragma once

#include <optional>
#include <span>

#include "hardware/specs.h"
#include "hardware/topology.h"
#include "sim/network/traffic_matrix.h"

namespace moesim::network {

// The cluster with one-way latencies read off its topology graph.
struct AnalyticNetwork {
  hardware::ClusterSpec cluster;
  Duration intra_group_latency;
  Duration cross_group_latency;
  Duration inter_node_latency;
};
AnalyticNetwork make_analytic_network(const hardware::ClusterSpec& cluster);

struct AllToAllCost {
  Duration time;      // transfer at the busiest port, plus latency
  Duration latency;   // that of the farthest class of peer used
  int messages = 0;   // the most peers one participant sends to
  Bytes intra_node;   // bytes that stay inside a node (excluding a GPU's own tokens)
  Bytes inter_node;   // bytes that cross the inter-node fabric
  Duration nic_busy;  // the busiest NIC's bytes (either way) at its line rate
};

AllToAllCost all_to_all_time(const AnalyticNetwork& net, const TrafficMatrix& bytes);

// The same for a sparse list of transfers between participants `gpus` (by index), all at once.
struct Transfer {
  uint32_t src, dst;
  double bytes;
};
AllToAllCost transfers_time(const AnalyticNetwork& net, std::span<const int> gpus, std::span<const Transfer> transfers);

// Rings NCCL runs for a ring collective over `gpus`: one per NIC in use in every node (the
// fewest any node has), one within a node.
size_t ring_count(const hardware::ClusterSpec& cluster, std::span<const int> gpus);

// A ring collective over `gpus` of `bytes` (the full buffer on each participant) in `passes`
// passes round the ring, each moving (n-1)/n of it through every GPU: an all-reduce is 2 (a
// reduce-scatter, then an all-gather), a reduce-scatter or an all-gather 1.
Duration ring_time(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes, int passes);
// How long each NIC it crosses is busy: its ring's share of the volume at the NIC's line rate; zero
// within a node.
Duration ring_nic_busy(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes, int passes);
// Its latency part, as NCCL's cost model has it: of each pass's n - 1 steps, the nodes - 1 that
// cross nodes take the network's latency, the rest an intra-node hop's (across HCCS groups where
// the ring changes group).
Duration ring_latency(const AnalyticNetwork& net, std::span<const int> gpus, int passes);
inline Duration ring_all_reduce_time(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes) {
  return ring_time(net, gpus, bytes, 2);
}
inline Duration ring_all_reduce_latency(const AnalyticNetwork& net, std::span<const int> gpus) { return ring_latency(net, gpus, 2); }

// An NVLink SHARP (NCCL's NVLS) all-reduce over `gpus`, where the cluster allows one (all of them
// on one NVSwitch of one node, cluster.intra_node.nvls): the switch reduces what the GPUs write and
// multicasts the sums, so each GPU's link carries the buffer once each way, at nvls_efficiency of
// its line rate, in one pass through the switch and back (latency: two hops). Empty where it does
// not apply.
std::optional<Duration> nvls_all_reduce_time(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes);
inline Duration nvls_all_reduce_latency(const AnalyticNetwork& net) { return net.intra_group_latency * 2; }

// An all-reduce as NCCL runs it: NVLS where it applies and is faster than the ring, else the ring.
struct AllReduceChoice {
  Duration time;
  bool nvls = false;
};
AllReduceChoice all_reduce_choice(const AnalyticNetwork& net, std::span<const int> gpus, Bytes bytes);

}  // namespace moesim::network
