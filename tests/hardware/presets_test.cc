#include "hardware/presets.h"

#include <gtest/gtest.h>

namespace moesim::hardware {
namespace {

TEST(ClusterPresets, AllRequiredPresetsExist) {
  for (const char* name : {"h100-dgx", "a100-dgx", "h800-dgx", "ascend-910b", "h200-dgx"}) {
    EXPECT_TRUE(cluster_preset(name).has_value()) << name;
  }
  EXPECT_FALSE(cluster_preset("h100").has_value());
}

TEST(ClusterPresets, H100DgxMatchesDatasheet) {
  const ClusterSpec c = *cluster_preset("h100-dgx");
  EXPECT_EQ(c.gpus_per_node, 8);
  EXPECT_DOUBLE_EQ(c.gpu.bf16_peak.per_second(), 989.4e12);
  EXPECT_DOUBLE_EQ(c.gpu.hbm_bandwidth.bytes_per_second(), 3.35e12);
  EXPECT_DOUBLE_EQ(c.intra_node.link.bandwidth.bytes_per_second(), 450e9);
  EXPECT_EQ(c.nic.count, 8);
  EXPECT_DOUBLE_EQ(c.nic.link.bandwidth.bytes_per_second(), 50e9);  // 400 Gb/s
  // Effective NVLink within the 340-370 GB/s that nccl-tests reports for 8x H100 all-to-all.
  EXPECT_GE(c.intra_node.link.effective().bytes_per_second(), 340e9);
  EXPECT_LE(c.intra_node.link.effective().bytes_per_second(), 370e9);
}

TEST(ClusterPresets, AscendHasTwoHccsGroupsOfFour) {
  const ClusterSpec c = *cluster_preset("ascend-910b");
  EXPECT_EQ(c.intra_node.fabric, IntraNodeFabric::kHccs);
  EXPECT_EQ(c.intra_node.group_size, 4);
  EXPECT_EQ(c.intra_group_of(3), 0);
  EXPECT_EQ(c.intra_group_of(4), 1);
  EXPECT_LT(c.intra_node.cross_group_link.bandwidth, c.intra_node.link.bandwidth);
}

TEST(ClusterSpec, RailWiringSharesNicsEvenly) {
  ClusterSpec c = *cluster_preset("h100-dgx");
  c.nic.count = 4;
  EXPECT_EQ(c.nic_of(0), 0);
  EXPECT_EQ(c.nic_of(1), 0);
  EXPECT_EQ(c.nic_of(7), 3);
  EXPECT_EQ(c.nic_of(15), 3);  // second node, last GPU
}

}  // namespace
}  // namespace moesim::hardware
