#include <gtest/gtest.h>

#include <numeric>

#include "hardware/presets.h"
#include "sim/network/analytic_network.h"

namespace moesim::network {
namespace {

hardware::ClusterSpec small_h100(int nodes, int gpus_per_node, int nics) {
  hardware::ClusterSpec c = *hardware::cluster_preset("h100-dgx");
  c.nodes = nodes;
  c.gpus_per_node = gpus_per_node;
  c.intra_node.group_size = gpus_per_node;
  c.nic.count = nics;
  return c;
}

std::vector<int> range(int n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TrafficMatrix uniform(int n, double bytes_to_each_peer) {
  TrafficMatrix t(range(n));
  for (int s = 0; s < n; ++s)
    for (int d = 0; d < n; ++d) t.at(s, d) = s == d ? 0 : bytes_to_each_peer;
  return t;
}

TEST(AllToAllAlphaBeta, InterNodeBoundByNic) {
  // 2 nodes x 2 GPUs, one NIC per GPU; every GPU sends 1 GB to each of the 3 others:
  // 1 GB over NVLink, 2 GB through its NIC. The NIC is the bottleneck.
  const AnalyticNetwork net = make_analytic_network(small_h100(2, 2, 2));
  const AllToAllCost cost = all_to_all_time(net, uniform(4, 1e9));
  const double nic = net.cluster.nic.link.effective().bytes_per_second();
  EXPECT_EQ(cost.time, Seconds(2e9 / nic) + net.inter_node_latency);
  EXPECT_DOUBLE_EQ(cost.inter_node.count(), 8e9);
  EXPECT_DOUBLE_EQ(cost.intra_node.count(), 4e9);
}

TEST(AllToAllAlphaBeta, GpusSharingANicAddUp) {
  const AnalyticNetwork net = make_analytic_network(small_h100(2, 2, 1));
  const AllToAllCost cost = all_to_all_time(net, uniform(4, 1e9));
  const double nic = net.cluster.nic.link.effective().bytes_per_second();
  EXPECT_EQ(cost.time, Seconds(4e9 / nic) + net.inter_node_latency);
}

TEST(AllToAllAlphaBeta, IntraNodeBoundByNvlinkAndSelfTrafficIsFree) {
  const AnalyticNetwork net = make_analytic_network(small_h100(1, 4, 4));
  TrafficMatrix t = uniform(4, 1e9);
  t.at(2, 2) = 5e12;  // a GPU's tokens for its own experts never leave it
  const AllToAllCost cost = all_to_all_time(net, t);
  const double nvlink = net.cluster.intra_node.link.effective().bytes_per_second();
  EXPECT_EQ(cost.time, Seconds(3e9 / nvlink) + net.intra_group_latency);
  EXPECT_DOUBLE_EQ(cost.inter_node.count(), 0);
}

TEST(AllToAllAlphaBeta, TheBusiestReceiverSetsTheTime) {
  // Everybody sends to GPU 0 only: its receive side carries 3x what any sender does.
  const AnalyticNetwork net = make_analytic_network(small_h100(1, 4, 4));
  TrafficMatrix t(range(4));
  for (int s = 1; s < 4; ++s) t.at(s, 0) = 1e9;
  const double nvlink = net.cluster.intra_node.link.effective().bytes_per_second();
  EXPECT_EQ(all_to_all_time(net, t).time, Seconds(3e9 / nvlink) + net.intra_group_latency);
}

TEST(AllToAllAlphaBeta, HccsGroupsUseTheSlowerCrossGroupLink) {
  const AnalyticNetwork net = make_analytic_network(*hardware::cluster_preset("ascend-910b"));
  TrafficMatrix t(range(8));
  t.at(0, 1) = 1e9;  // same HCCS group
  t.at(0, 4) = 1e9;  // other group, over PCIe
  const auto& in = net.cluster.intra_node;
  const double expected = std::max(1e9 / in.link.effective().bytes_per_second(), 1e9 / in.cross_group_link.effective().bytes_per_second());
  EXPECT_EQ(all_to_all_time(net, t).time, Seconds(expected) + net.cross_group_latency);
}

TEST(AllToAllAlphaBeta, NcclBusBandwidthOnOneH100Node) {
  // nccl-tests: busBw = algBw * (n-1)/n; large 8x H100 all-to-all reaches ~340-370 GB/s
  // (nccl-tests issue #212, ../shared/reference/hardware.md).
  const AnalyticNetwork net = make_analytic_network(*hardware::cluster_preset("h100-dgx"));
  const double per_gpu = 8e9;  // bytes each GPU holds, 1/8 to each rank (itself included)
  const Duration t = all_to_all_time(net, uniform(8, per_gpu / 8)).time;
  const double bus_bw = per_gpu / t.seconds() * 7.0 / 8.0;
  EXPECT_GE(bus_bw, 340e9);
  EXPECT_LE(bus_bw, 370e9);
}

TEST(AllToAllAlphaBeta, MultiNodeBusBandwidthIsAboutNOverNMinusOneNics) {
  // nccl-tests issues #130/#267: with one NIC per GPU, busBw ~ N/(N-1) x NIC bandwidth (50 GB/s).
  for (int nodes : {2, 4, 16}) {
    hardware::ClusterSpec c = *hardware::cluster_preset("h100-dgx");
    c.nodes = nodes;
    const AnalyticNetwork net = make_analytic_network(c);
    const int n = c.gpu_count();
    const double per_gpu = 4e9;
    const Duration t = all_to_all_time(net, uniform(n, per_gpu / n)).time;
    const double bus_bw = per_gpu / t.seconds() * (n - 1.0) / n;
    const double expected = 50e9 * nodes / (nodes - 1.0);
    EXPECT_NEAR(bus_bw / expected, 1.0, 0.15) << nodes << " nodes";
  }
}

}  // namespace
}  // namespace moesim::network
