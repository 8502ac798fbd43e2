// DeepEP's test logs as `moesim calibrate --deepep` reads them.
#include "sim/calibrate/deepep_log.h"

#include <gtest/gtest.h>

#include <string>

namespace moesim::calibrate {
namespace {

std::string fixture(const std::string& name) { return std::string(MOESIM_SOURCE_DIR) + "/tests/e2e/data/" + name; }

TEST(DeepEpLog, ReadsTheSettingAndLabelsEachTuningLineByItsBlock) {
  const DeepEpLog log = read_deepep_log(fixture("deepep_intranode_h800.log"));
  EXPECT_FALSE(log.internode);
  EXPECT_EQ(log.tokens, 4096);
  EXPECT_EQ(log.hidden, 7168);
  EXPECT_EQ(log.top_k, 8);
  ASSERT_EQ(log.tunings.size(), 22u);  // 8 FP8 dispatch, 8 BF16 dispatch, 6 combine
  EXPECT_TRUE(log.tunings[0].fp8 && !log.tunings[0].combine);
  EXPECT_EQ(log.tunings[0].line, 8);
  EXPECT_DOUBLE_EQ(log.tunings[0].nvl_gbps, 120.31);
  EXPECT_TRUE(!log.tunings[8].fp8 && !log.tunings[8].combine);
  EXPECT_TRUE(log.tunings[21].combine);
  EXPECT_EQ(log.tunings[21].sms, 24);
  EXPECT_DOUBLE_EQ(log.tunings[21].rdma_gbps, 0.0);
}

TEST(DeepEpLog, ReadsInternodeRdmaAndNvlFigures) {
  const DeepEpLog log = read_deepep_log(fixture("deepep_internode_h800_ep16.log"));
  EXPECT_TRUE(log.internode);
  EXPECT_EQ(log.topk_groups, 2);
  ASSERT_EQ(log.tunings.size(), 12u);
  EXPECT_DOUBLE_EQ(log.tunings[3].rdma_gbps, 43.0);
  EXPECT_DOUBLE_EQ(log.tunings[3].nvl_gbps, 141.9);
}

TEST(DeepEpLog, RefusesWhatIsNotAUsableLog) {
  const std::string config = "[config] num_tokens=4096, hidden=7168, num_topk=8\n";
  const std::pair<std::string, std::string> cases[] = {
      {"", "in.log: not a DeepEP test log"},
      {"[tuning] SMs 24, NVL chunk 4: 1.0 GB/s (NVL)\n", "in.log:1: a [tuning] line before DeepEP's [config] line"},
      {"[config] num_tokens=many, hidden=7168, num_topk=8\n", "in.log:1: expected DeepEP's '[config] num_tokens=N"},
      {config, "in.log: no [tuning] lines"},
      {config + "[tuning] Best combine: SMs 24, NVL chunk 1: 1.00 GB/s (NVL)\n",
       "in.log:2: a 'Best' line with no [tuning] lines before it"},
      {config + "[tuning] SMs 24, NVL chunk 4: 1.0.1 GB/s (NVL)\n", "in.log:2: expected DeepEP's '[tuning] SMs N"},
      {config + "[tuning] SMs 0, NVL chunk 4: 1.0 GB/s (NVL)\n", "in.log:2: expected 1 to 1024 SMs, got 0"},
      {config + "[tuning] SMs 24, NVL chunk 4: 0.00 GB/s (NVL)\n", "in.log:2: expected a bandwidth above 0"},
      {config + "[tuning] SMs 24, NVL chunk 4, RDMA chunk 8: 1.0 GB/s (RDMA), 2.0 GB/s (NVL)\n",
       "in.log:2: an RDMA figure in an intranode log"},
      {config + "[tuning] SMs 24, NVL chunk 4: 1.0 GB/s (NVL)\n", "in.log: [tuning] lines without the 'Best dispatch' or 'Best combine'"},
      {"[config] " + std::string(600, 'x') + "\n", "in.log:1: expected a DeepEP [config] or [tuning] line, got one of 609 characters"},
  };
  for (const auto& [text, message] : cases) {
    try {
      parse_deepep_log(text, "in.log");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const LogError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace moesim::calibrate
