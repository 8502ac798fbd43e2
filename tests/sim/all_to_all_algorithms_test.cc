// The all-to-all algorithms: what each phase moves, and which wins where.
#include "sim/network/all_to_all.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "hardware/presets.h"
#include "tests/sim/uniform_traffic.h"

namespace moesim::network {
namespace {

using hardware::AllToAllAlgorithm;

hardware::ClusterSpec h100(int nodes, AllToAllAlgorithm algorithm) {
  hardware::ClusterSpec c = *hardware::cluster_preset("h100-dgx");
  c.nodes = nodes;
  c.network.all_to_all = algorithm;
  c.network.message_overhead = Microseconds(1);  // as in the README's table
  return c;
}

double total(const TrafficMatrix& t) {
  double sum = 0;
  for (size_t s = 0; s < t.size(); ++s)
    for (size_t d = 0; d < t.size(); ++d) sum += t.at(s, d);
  return sum;
}

TEST(AllToAllAlgorithms, HierarchicalGathersInsideNodesThenExchangesBetweenPeers) {
  const auto c = h100(4, AllToAllAlgorithm::kHierarchical);
  const TrafficMatrix t = uniform_traffic(32, 1e6);
  std::vector<TrafficMatrix> phases;
  for_each_phase(c.network.all_to_all, c, t, [&](const TrafficMatrix& phase) { phases.push_back(phase); });
  ASSERT_EQ(phases.size(), 2u);
  const TrafficMatrix& gather = phases[0];
  const TrafficMatrix& exchange = phases[1];
  for (int s = 0; s < 32; ++s) {
    for (int d = 0; d < 32; ++d) {
      if (gather.at(s, d) > 0) {
        EXPECT_EQ(c.node_of(s), c.node_of(d));  // NVLink only
      }
      if (exchange.at(s, d) > 0) {
        EXPECT_EQ(c.local_index(s), c.local_index(d));  // same rail only
      }
    }
  }
  // GPU 0 hands GPU 1 what goes to local index 1 on all four nodes (4 MB) and receives from its
  // seven neighbours what goes to local index 0 on the three other nodes.
  EXPECT_DOUBLE_EQ(gather.at(0, 1), 4e6);
  EXPECT_DOUBLE_EQ(exchange.at(0, 8), 8e6);
  // Inter-node bytes are those of the flat all-to-all, sent as 3 messages per GPU instead of 24.
  EXPECT_DOUBLE_EQ(total(exchange), 32.0 * 24 * 1e6);
  EXPECT_DOUBLE_EQ(total(gather) + total(exchange), total(t) + 32.0 * 24 * 1e6 * 7 / 8);
  EXPECT_EQ(all_to_all_time(make_analytic_network(c), exchange).messages, 3);
}

TEST(AllToAllAlgorithms, FlatPaysAMessageOverheadPerPeer) {
  auto c = h100(4, AllToAllAlgorithm::kFlat);
  const TrafficMatrix t = uniform_traffic(32, 1e6);
  const AllToAllCost bare = all_to_all_time(make_analytic_network(c), t);
  EXPECT_EQ(bare.messages, 31);
  EXPECT_EQ(all_to_all_cost(make_analytic_network(c), t).time, bare.time + c.network.message_overhead * 30);
}

TEST(AllToAllAlgorithms, PairwiseSumsItsRounds) {
  // Two nodes of one GPU: one round, GPU 0 -> 1 and 1 -> 0 at once, NIC-bound.
  auto c = h100(2, AllToAllAlgorithm::kPairwise);
  c.gpus_per_node = 1;
  c.nic.count = 1;
  const auto net = make_analytic_network(c);
  TrafficMatrix t({0, 1});
  t.at(0, 1) = 4e9;
  t.at(1, 0) = 1e9;
  EXPECT_EQ(all_to_all_cost(net, t).time, Seconds(4e9 / c.nic.link.effective().bytes_per_second()) + net.inter_node_latency);
  // Four GPUs in one node: three rounds of one message each, so no message overhead.
  auto node = h100(1, AllToAllAlgorithm::kPairwise);
  node.gpus_per_node = 4;
  node.intra_node.group_size = 4;
  const auto node_net = make_analytic_network(node);
  const double per_round = 1e9 / node.intra_node.link.effective().bytes_per_second();
  EXPECT_EQ(all_to_all_cost(node_net, uniform_traffic(4, 1e9)).time, (Seconds(per_round) + node_net.intra_group_latency) * 3);
}

TEST(AllToAllAlgorithms, HierarchicalWinsWithSmallMessagesAtScaleAndFlatWithLargeOnesOnFewNodes) {
  auto time = [](int nodes, double bytes, AllToAllAlgorithm a) {
    const auto c = h100(nodes, a);
    return all_to_all_cost(make_analytic_network(c), uniform_traffic(c.gpu_count(), bytes)).time;
  };
  // 64 nodes, 4 KB per pair: flat posts 511 messages per GPU, hierarchical 7 + 63.
  EXPECT_LT(time(64, 4096, AllToAllAlgorithm::kHierarchical), time(64, 4096, AllToAllAlgorithm::kFlat));
  // 2 nodes, 8 MB per pair: the extra NVLink phase costs more than 15 messages save.
  EXPECT_LT(time(2, 8e6, AllToAllAlgorithm::kFlat), time(2, 8e6, AllToAllAlgorithm::kHierarchical));
  // Pairwise waits for the slowest pair of every round: never faster than flat here.
  EXPECT_LE(time(2, 8e6, AllToAllAlgorithm::kFlat), time(2, 8e6, AllToAllAlgorithm::kPairwise));
}

}  // namespace
}  // namespace moesim::network
