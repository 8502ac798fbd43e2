#include "hardware/topology.h"

#include <gtest/gtest.h>

#include "hardware/presets.h"

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
  EXPECT_EQ(s.spines, 0);  // one pod needs no spine
  EXPECT_EQ(s.links, 32 * 2 + 32);
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
