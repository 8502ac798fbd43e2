#include "hardware/topology.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "hardware/presets.h"
#include "hardware/routing.h"

namespace moesim::hardware {
namespace {

ClusterSpec h100(int nodes) {
  ClusterSpec c = *cluster_preset("h100-dgx");
  c.nodes = nodes;
  return c;
}

TEST(Topology, DgxPodHasGpusSwitchesNicsAndRails) {
  const TopologySummary s = summarize(build_topology(h100(4)));
  EXPECT_EQ(s.gpus, 32);
  EXPECT_EQ(s.intra_switches, 4);
  EXPECT_EQ(s.nics, 32);
  EXPECT_EQ(s.leaves, 8);  // one rail switch per NIC index
  EXPECT_EQ(s.spines, 8);  // rails meet at the spines
  EXPECT_EQ(s.links, 32 * 2 + 32 + 8 * 8);
  EXPECT_TRUE(s.connected);
}

TEST(Topology, SeveralPodsAreJoinedBySpines) {
  ClusterSpec c = h100(4);
  c.fabric.leaf_ports = 2;  // two nodes per pod
  const TopologySummary s = summarize(build_topology(c));
  EXPECT_EQ(s.leaves, 16);
  EXPECT_EQ(s.spines, 8);
  EXPECT_TRUE(s.connected);
}

TEST(Topology, LatenciesFollowThePath) {
  ClusterSpec c = h100(4);
  const Topology t = build_topology(c);
  // GPU to GPU over NVSwitch: two half-latency hops.
  EXPECT_EQ(*path_latency(t, 0, 1), c.intra_node.link.latency);
  // Same rail on another node: GPU-NIC, NIC-leaf (+switch), leaf-NIC (+switch), NIC-GPU.
  EXPECT_EQ(*path_latency(t, 0, 8), c.nic.link.latency * 2 + c.fabric.switch_latency * 2);
  c.fabric.leaf_ports = 2;
  const Topology pods = build_topology(c);
  EXPECT_EQ(*path_latency(pods, 0, 24), c.nic.link.latency * 2 + c.fabric.switch_latency * 4);
}

// With an NVLink latency above a NIC round trip's, the lowest-latency path between two GPUs of a
// node runs out through their NICs and a leaf; traffic still takes NVLink, as NCCL's
// peer-to-peer transport does. Between HCCS groups it takes the PCIe switch, not the NICs.
TEST(Topology, GpusOfANodeTalkOverItsOwnInterconnectWhateverTheLatencies) {
  for (const char* preset : {"h100-dgx", "ascend-910b"}) {
    SCOPED_TRACE(preset);
    ClusterSpec c = *cluster_preset(preset);
    c.nodes = 2;
    c.intra_node.link.latency = Microseconds(20);
    c.intra_node.cross_group_link.latency = Microseconds(30);
    const Topology t = build_topology(c);
    const int last = c.gpus_per_node - 1;  // in another HCCS group on Ascend
    const Duration across = c.intra_node.group_size < c.gpus_per_node ? Microseconds(20 + 30) : Microseconds(20);
    ASSERT_LT(c.nic.link.latency * 2 + c.fabric.switch_latency * 2, Microseconds(20));
    EXPECT_EQ(*path_latency(t, 0, 1), Microseconds(20));
    EXPECT_EQ(*path_latency(t, 0, last), across);
    // The other node is still reached through the NICs.
    EXPECT_EQ(*path_latency(t, 0, c.gpus_per_node), c.nic.link.latency * 2 + c.fabric.switch_latency * 2);

    std::vector<bool> fabric_link(2 * boost::num_edges(t.graph));
    for (auto e : boost::make_iterator_range(boost::edges(t.graph))) {
      const bool inside =
          in_node_fabric(t.graph[boost::source(e, t.graph)].kind) && in_node_fabric(t.graph[boost::target(e, t.graph)].kind);
      fabric_link[2 * t.graph[e].id] = fabric_link[2 * t.graph[e].id + 1] = inside;
    }
    for (FabricRouting routing : {FabricRouting::kEcmp, FabricRouting::kAdaptive}) {
      Router by_pair(t, routing), by_table(t, routing);
      const std::vector<int> gpus{0, 1, last, c.gpus_per_node};
      const auto same_node = [&](size_t a, size_t b) { return (gpus[a] < c.gpus_per_node) == (gpus[b] < c.gpus_per_node); };
      for (size_t a = 0; a < gpus.size(); ++a) {
        for (size_t b = 0; b < gpus.size(); ++b) {
          const auto route = by_pair.route(gpus[a], gpus[b]);
          EXPECT_EQ(route.empty(), a == b);
          for (const RouteHop& hop : route) EXPECT_EQ(fabric_link[hop.link], same_node(a, b)) << gpus[a] << " -> " << gpus[b];
        }
      }
      const Router::Table& table = by_table.table(gpus);
      for (size_t i = 0; i < table.links().size(); ++i) {
        for (uint32_t pair : table.pairs_across(i)) {
          EXPECT_NE(pair / gpus.size(), pair % gpus.size());
          EXPECT_EQ(fabric_link[table.links()[i]], same_node(pair / gpus.size(), pair % gpus.size())) << pair;
        }
      }
    }
  }
}

TEST(Topology, TopOfRackFatTreeHasALeafPerRackOfNodes) {
  ClusterSpec c = h100(8);
  c.fabric.kind = "fat_tree";
  c.fabric.leaf_ports = 32;  // four nodes of eight NICs per leaf
  const TopologySummary s = summarize(build_topology(c));
  EXPECT_EQ(s.leaves, 2);
  EXPECT_EQ(s.spines, 8);
  EXPECT_TRUE(s.connected);
}

TEST(Topology, BisectionOfANonBlockingFatTreeIsHalfTheNics) {
  ClusterSpec c = h100(8);
  c.fabric.kind = "fat_tree";
  c.fabric.leaf_ports = 32;
  // Nodes 0-3 on one leaf, 4-7 on the other: 32 NICs of 50 GB/s face the other half.
  EXPECT_NEAR(bisection_bandwidth(build_topology(c)).bytes_per_second(), 32 * 50e9, 1e6);
  c.fabric.oversubscription = 2;
  EXPECT_NEAR(bisection_bandwidth(build_topology(c)).bytes_per_second(), 16 * 50e9, 1e6);
}

TEST(Topology, BisectionOfOneNodeIsItsNvlinkHalf) {
  EXPECT_NEAR(bisection_bandwidth(build_topology(h100(1))).bytes_per_second(), 4 * 450e9, 1e6);
}

TEST(Topology, MultiPlaneKeepsRailsApart) {
  ClusterSpec c = h100(4);
  c.fabric.kind = "multi_plane";
  c.fabric.leaf_ports = 2;  // two pods, so each plane needs its spine
  c.fabric.spines = 1;
  const Topology t = build_topology(c);
  const TopologySummary s = summarize(t);
  EXPECT_EQ(s.leaves, 16);
  EXPECT_EQ(s.spines, 8);  // one per plane
  EXPECT_TRUE(s.connected);
  // Rail 0 to rail 1 on another pod: forward over NVLink to the GPU on rail 1, then plane 1.
  Router router(t);
  const auto route = router.route(0, 3 * 8 + 1);
  bool via_gpu1 = false;
  for (const RouteHop& hop : route) {
    const LinkId l = hop.link;
    for (auto e : boost::make_iterator_range(boost::edges(t.graph))) {
      if (t.graph[e].id != static_cast<int>(l / 2)) continue;
      via_gpu1 |= t.graph[boost::source(e, t.graph)].kind == VertexKind::kGpu && t.graph[boost::source(e, t.graph)].index == 1;
      via_gpu1 |= t.graph[boost::target(e, t.graph)].kind == VertexKind::kGpu && t.graph[boost::target(e, t.graph)].index == 1;
    }
  }
  EXPECT_TRUE(via_gpu1);
}

TEST(Topology, WithoutSpinesLeavesAreCutOff) {
  ClusterSpec c = h100(4);
  c.fabric.spines = 0;
  EXPECT_TRUE(summarize(build_topology(c)).connected);  // one pod: rails meet by NVLink forwarding
  c.fabric.leaf_ports = 2;
  EXPECT_FALSE(summarize(build_topology(c)).connected);
}

TEST(Topology, DotNamesEveryVertexAndLabelsLinks) {
  std::ostringstream dot;
  const Topology t = build_topology(*cluster_preset("ascend-910b"));
  write_dot(t, dot);
  const std::string s = dot.str();
  EXPECT_EQ(s.rfind("graph G {", 0), 0u);
  EXPECT_NE(s.find("label=\"gpu7\""), std::string::npos);
  EXPECT_NE(s.find("label=\"pcie0\""), std::string::npos);
  EXPECT_NE(s.find("GB/s"), std::string::npos);
  EXPECT_EQ(static_cast<size_t>(std::count(s.begin(), s.end(), '\n')), 2 + boost::num_vertices(t.graph) + boost::num_edges(t.graph));
}

TEST(Router, RoutesFollowLowestLatencyAndHashOverSpines) {
  ClusterSpec c = h100(4);
  c.fabric.leaf_ports = 2;
  const Topology t = build_topology(c);
  Router router(t);
  EXPECT_TRUE(router.route(3, 3).empty());
  EXPECT_EQ(router.route(0, 1).size(), 2u);   // GPU -> NVSwitch -> GPU
  EXPECT_EQ(router.route(0, 8).size(), 4u);   // same pod, same rail: GPU -> NIC -> leaf -> NIC -> GPU
  EXPECT_EQ(router.route(0, 24).size(), 6u);  // other pod: up to a spine and down
  // Opposite directions use the two directions of the same links.
  std::set<LinkId> there, back;
  for (const RouteHop& hop : router.route(0, 24)) there.insert(hop.link / 2);
  for (const RouteHop& hop : router.route(24, 0)) back.insert(hop.link / 2);
  EXPECT_EQ(there.size(), 6u);
  // ECMP: pairs across pods spread over all eight spines (the leaf-to-spine link is the third hop).
  std::set<LinkId> uplinks;
  for (int a = 0; a < 16; ++a)
    for (int b = 16; b < 32; ++b) uplinks.insert(router.route(a, b)[2].link);
  // 32 pairs per leaf hashed over its 8 uplinks leave few unused (hashing everything onto one
  // spine would give 8).
  EXPECT_GE(uplinks.size(), 7u * 8u);
  // Deterministic: the same pair takes the same path in a fresh router.
  Router again(t);
  std::vector<LinkId> r1, r2;
  for (const RouteHop& hop : again.route(5, 30)) r1.push_back(hop.link);
  for (const RouteHop& hop : router.route(5, 30)) r2.push_back(hop.link);
  EXPECT_EQ(r1, r2);
  for (const RouteHop& hop : router.route(0, 8)) {
    EXPECT_GT(router.capacity(hop.link), 0);
    EXPECT_EQ(hop.share, 1.0);
  }
}

TEST(Router, AdaptiveRoutingSpreadsAPairOverEverySpine) {
  ClusterSpec c = h100(4);
  c.fabric.leaf_ports = 2;
  const Topology t = build_topology(c);
  Router router(t, FabricRouting::kAdaptive);
  const auto route = router.route(0, 24);
  // GPU -> NIC -> leaf, then 1/8 to each of 8 spines, 1/8 from each down to the far leaf, -> NIC -> GPU.
  ASSERT_EQ(route.size(), 2u + 8u + 8u + 2u);
  double up = 0;
  int eighths = 0;
  for (const RouteHop& hop : route) {
    if (hop.share < 1) {
      EXPECT_DOUBLE_EQ(hop.share, 0.125);
      ++eighths;
      up += hop.share;
    }
  }
  EXPECT_EQ(eighths, 16);
  EXPECT_DOUBLE_EQ(up, 2.0);
}

// The router composes latencies from its leaves' and each destination island's; they must be a
// full Dijkstra's, vertex by vertex, on every fabric kind (spines cut off included).
TEST(Router, LatenciesAreThoseOfADijkstraPerDestination) {
  std::vector<ClusterSpec> clusters;
  for (const char* kind : {"rail_optimized", "fat_tree", "multi_plane"}) {
    ClusterSpec c = h100(6);
    c.fabric.kind = kind;
    c.fabric.leaf_ports = c.fabric.kind == "fat_tree" ? 16 : 2;  // several pods
    c.fabric.spines = 2;
    clusters.push_back(c);
  }
  clusters.push_back(clusters.front());
  clusters.back().fabric.spines = 0;  // pods cut off from each other
  ClusterSpec ascend = *cluster_preset("ascend-910b");
  ascend.nodes = 3;
  ascend.fabric.leaf_ports = 2;
  clusters.push_back(ascend);
  for (const ClusterSpec& c : clusters) {
    SCOPED_TRACE(c.fabric.kind + " with " + std::to_string(c.fabric.spines) + " spines on " + c.preset);
    const Topology t = build_topology(c);
    Router router(t);
    int unreachable = 0;
    for (int gpu = 0; gpu < c.gpu_count(); ++gpu) {
      const std::vector<int64_t> expected = latencies_from(t, gpu);
      for (TopologyVertex v = 0; v < expected.size(); ++v) {
        ASSERT_EQ(router.latency_to(gpu, v), expected[v]) << "GPU " << gpu << ", vertex " << v;
        unreachable += expected[v] == kUnreachable;
      }
    }
    EXPECT_EQ(unreachable > 0, c.fabric.spines == 0);
  }
}

// Under ECMP a route is one path: each hop leaves where the last one arrived, every share is 1,
// and the links' latencies add up to the pair's lowest latency; with switch hops at zero latency,
// to within the 1 ps a hop the router counts a link at least, and never in circles. Adaptive
// routing's spread of a pair arrives whole.
TEST(Router, RoutesAreLowestLatencyPathsThatReachTheirDestination) {
  for (const char* kind : {"rail_optimized", "fat_tree", "multi_plane"}) {
    for (const bool zero_switch_latency : {false, true}) {
      ClusterSpec c = h100(6);
      c.fabric.kind = kind;
      c.fabric.leaf_ports = c.fabric.kind == "fat_tree" ? 16 : 2;
      c.fabric.spines = 2;
      if (zero_switch_latency) c.fabric.switch_latency = Duration();
      SCOPED_TRACE(std::string(kind) + (zero_switch_latency ? ", switches at zero latency" : ""));
      const Topology t = build_topology(c);
      std::map<LinkId, std::pair<TopologyVertex, TopologyVertex>> ends;  // a directed link's tail and head
      std::map<LinkId, int64_t> latency;
      for (auto e : boost::make_iterator_range(boost::edges(t.graph))) {
        const auto u = boost::source(e, t.graph), v = boost::target(e, t.graph);
        const LinkId up = 2 * static_cast<LinkId>(t.graph[e].id);
        ends[up + (u < v ? 0 : 1)] = {u, v};
        ends[up + (u < v ? 1 : 0)] = {v, u};
        latency[up] = latency[up + 1] = t.graph[e].latency.picoseconds();
      }
      Router router(t);
      for (int b = 0; b < c.gpu_count(); ++b) {
        const std::vector<int64_t> lowest = latencies_from(t, b);
        for (int a = 0; a < c.gpu_count(); ++a) {
          if (a == b) continue;
          TopologyVertex at = t.gpu_vertex[a];
          int64_t total = 0;
          const auto route = router.route(a, b);
          for (const RouteHop& hop : route) {
            ASSERT_EQ(hop.share, 1.0) << a << " -> " << b;
            ASSERT_EQ(ends.at(hop.link).first, at) << a << " -> " << b;
            at = ends.at(hop.link).second;
            total += latency.at(hop.link);
          }
          ASSERT_EQ(at, t.gpu_vertex[b]) << a << " -> " << b;
          ASSERT_GE(total, lowest[t.gpu_vertex[a]]) << a << " -> " << b;
          ASSERT_LE(total, lowest[t.gpu_vertex[a]] + (zero_switch_latency ? static_cast<int64_t>(route.size()) : 0)) << a << " -> " << b;
        }
      }
      // Adaptive routing spreads a pair over the same lowest-latency paths: all of it arrives.
      Router adaptive(t, FabricRouting::kAdaptive);
      for (int a = 0; a < c.gpu_count(); ++a) {
        for (int b = 0; b < c.gpu_count(); ++b) {
          if (a == b) continue;
          double arrived = 0;
          for (const RouteHop& hop : adaptive.route(a, b)) arrived += ends.at(hop.link).second == t.gpu_vertex[b] ? hop.share : 0;
          ASSERT_NEAR(arrived, 1.0, 1e-12) << a << " -> " << b;
        }
      }
    }
  }
}

// A set's table, routed destination by destination and kept link by link, holds the routes that
// route() gives pair by pair, turned round: each link lists exactly the pairs whose routes cross
// it, in order, with their shares (none kept where all are 1).
TEST(Router, ATablesLinksListThePairsWhoseRoutesCrossThem) {
  ClusterSpec c = h100(6);
  c.fabric.leaf_ports = 2;
  c.fabric.spines = 3;
  const Topology t = build_topology(c);
  for (FabricRouting routing : {FabricRouting::kEcmp, FabricRouting::kAdaptive}) {
    Router by_pair(t, routing), by_table(t, routing);
    by_table.route(9, 40);  // a pair already routed apart changes nothing
    const std::vector<int> gpus{0, 3, 9, 17, 40, 41, 47};
    const Router::Table& table = by_table.table(gpus);
    EXPECT_EQ(&by_table.table(gpus), &table);
    const size_t n = gpus.size();
    std::map<LinkId, std::vector<std::pair<uint32_t, double>>> expected;  // link -> (pair, share)
    bool split = false;
    for (uint32_t pair = 0; pair < n * n; ++pair) {
      for (const RouteHop& hop : by_pair.route(gpus[pair / n], gpus[pair % n])) {
        expected[hop.link].emplace_back(pair, hop.share);
        split |= hop.share != 1.0;
      }
    }
    EXPECT_EQ(split, routing == FabricRouting::kAdaptive);
    ASSERT_EQ(table.links().size(), expected.size());
    size_t i = 0;
    for (const auto& [link, crossings] : expected) {
      EXPECT_EQ(table.links()[i], link);
      const auto pairs = table.pairs_across(i);
      const auto shares = table.shares_across(i);
      ASSERT_EQ(pairs.size(), crossings.size()) << link;
      EXPECT_EQ(shares.size(), split ? pairs.size() : 0u);
      for (size_t k = 0; k < pairs.size(); ++k) {
        EXPECT_EQ(pairs[k], crossings[k].first);
        if (split) {
          EXPECT_EQ(shares[k], crossings[k].second);
        }
      }
      ++i;
    }
    // The positions by how many pairs cross them, most first, each once.
    const auto order = table.links_by_pairs();
    ASSERT_EQ(order.size(), table.links().size());
    std::vector<bool> seen(order.size(), false);
    for (size_t k = 0; k < order.size(); ++k) {
      ASSERT_LT(order[k], order.size());
      EXPECT_FALSE(seen[order[k]]);
      seen[order[k]] = true;
      if (k > 0) {
        EXPECT_GE(table.pairs_across(order[k - 1]).size(), table.pairs_across(order[k]).size());
      }
    }
  }
}

TEST(Topology, HccsGroupsAreJoinedOverPcie) {
  const ClusterSpec c = *cluster_preset("ascend-910b");
  const Topology t = build_topology(c);
  const TopologySummary s = summarize(t);
  EXPECT_EQ(s.intra_switches, 2);
  EXPECT_EQ(s.pcie_switches, 1);
  EXPECT_EQ(*path_latency(t, 0, 4), c.intra_node.link.latency + c.intra_node.cross_group_link.latency);
}

}  // namespace
}  // namespace moesim::hardware
