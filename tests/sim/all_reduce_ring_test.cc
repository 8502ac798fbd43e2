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
  const Duration expected = Seconds(2.0 * 31 / 32 * 1e9 / std::min(nvlink, nics)) + net.inter_node_latency * 62;
  EXPECT_EQ(ring_all_reduce_time(net, all, GB(1)), expected);
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
