#include <gtest/gtest.h>

#include "hardware/presets.h"
#include "sim/network/analytic_network.h"

namespace moesim::network {
namespace {

AnalyticNetwork h100_nodes(int nodes) {
  hardware::ClusterSpec c = *hardware::cluster_preset("h100-dgx");
  c.nodes = nodes;
  return make_analytic_network(c);
}

TEST(AllReduceRing, InsideOneNodeTwoTimesNMinusOneOverN) {
  const AnalyticNetwork net = h100_nodes(1);
  const std::vector<int> gpus{0, 1, 2, 3, 4, 5, 6, 7};
  const double nvlink = net.cluster.intra_node.link.effective().bytes_per_second();
  const Duration expected = Seconds(2.0 * 7 / 8 * 1e9 / nvlink) + net.intra_group_latency * 14;
  EXPECT_EQ(ring_all_reduce_time(net, gpus, GB(1)), expected);
}

TEST(AllReduceRing, AcrossNodesOneRingPerNicCappedByNvlink) {
  const AnalyticNetwork net = h100_nodes(4);
  std::vector<int> all(32);
  for (int i = 0; i < 32; ++i) all[i] = i;
  const double nvlink = net.cluster.intra_node.link.effective().bytes_per_second();
  const double nics = 8 * net.cluster.nic.link.effective().bytes_per_second();
  // NCCL's cost model: of each pass's 31 steps, the 3 that cross nodes pay the network's latency,
  // the 28 others NVLink's.
  const Duration latency = (net.intra_group_latency * 28 + net.inter_node_latency * 3) * 2;
  EXPECT_EQ(ring_all_reduce_time(net, all, GB(1)), Seconds(2.0 * 31 / 32 * 1e9 / std::min(nvlink, nics)) + latency);
  EXPECT_EQ(ring_all_reduce_latency(net, all), latency);
  EXPECT_EQ(ring_latency(net, all, 1) * 2, latency);
}

TEST(AllReduceRing, HccsGroupsAndNodesEachPayTheirOwnStepLatency) {
  hardware::ClusterSpec c = *hardware::cluster_preset("ascend-910b");
  c.nodes = 2;
  const AnalyticNetwork net = make_analytic_network(c);
  ASSERT_LT(net.intra_group_latency, net.cross_group_latency);
  ASSERT_LT(net.cross_group_latency, net.inter_node_latency);
  std::vector<int> all(16);
  for (int i = 0; i < 16; ++i) all[i] = i;
  // 15 steps a pass round 2 nodes of two HCCS groups of four: 1 to the other node, 2 from one
  // group to the other inside a node, 12 inside a group.
  EXPECT_EQ(ring_all_reduce_latency(net, all), (net.intra_group_latency * 12 + net.cross_group_latency * 2 + net.inter_node_latency) * 2);
  // One node, one GPU of each group: a single step across groups each pass.
  const std::vector<int> pair{0, 4};
  EXPECT_EQ(ring_latency(net, pair, 1), net.cross_group_latency);
}

TEST(AllReduceRing, OneGpuPerNodeIsBoundByItsNic) {
  const AnalyticNetwork net = h100_nodes(4);
  const std::vector<int> rail{3, 11, 19, 27};
  const double nic = net.cluster.nic.link.effective().bytes_per_second();
  EXPECT_EQ(ring_all_reduce_time(net, rail, GB(1)), Seconds(2.0 * 3 / 4 * 1e9 / nic) + net.inter_node_latency * 6);
}

TEST(AllReduceRing, NothingToReduce) {
  const AnalyticNetwork net = h100_nodes(1);
  const std::vector<int> one{0};
  EXPECT_EQ(ring_all_reduce_time(net, one, GB(1)), Duration());
}

}  // namespace
}  // namespace moesim::network
