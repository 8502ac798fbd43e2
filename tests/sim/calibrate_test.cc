// Calibration from nccl-tests logs: the log formats nccl-tests prints, bad logs refused in one
// line, and a fit that recovers the link parameters a log was made with.
#include "sim/calibrate/fit.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "hardware/presets.h"

namespace moesim::calibrate {
namespace {

hardware::ClusterSpec h800(int nodes) {
  hardware::ClusterSpec c = *hardware::cluster_preset("h800-dgx");
  c.nodes = nodes;
  return c;
}

// What a *_perf binary prints for `samples` measured on `nodes` hosts of `per_node` ranks.
std::string nccl_tests_log(const char* tool, const char* redop, int nodes, int per_node,
                           const std::vector<network::CollectiveSample>& samples) {
  std::string text = "# nccl-tests version 2.17.8 nccl-headers=23004 nccl-library=23004\n";
  text += std::string("# Collective test starting: ") + tool + "\n";
  text +=
      "# nThread 1 nGpus 1 minBytes 1024 maxBytes 1073741824 step: 4(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: "
      "0\n#\n# Using devices\n";
  char buf[256];
  for (int r = 0; r < nodes * per_node; ++r) {
    std::snprintf(buf, sizeof buf, "#  Rank %2d Group  0 Pid %6d on      node%d device  %d [0000:4e:00] NVIDIA H800\n", r, 1000 + r,
                  r / per_node, r % per_node);
    text += buf;
  }
  text += "#\n#                                                              out-of-place                       in-place          \n";
  text += "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong \n";
  text += "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)             (us)  (GB/s)  (GB/s)         \n";
  for (const auto& s : samples) {
    const double us = s.time.seconds() * 1e6;
    std::snprintf(buf, sizeof buf, "%12lld  %12lld     float  %6s      -1  %7.2f  %6.2f  %6.2f       0  %7.2f  %6.2f  %6.2f       0\n",
                  static_cast<long long>(s.bytes), static_cast<long long>(s.count), redop, us, s.algbw, s.busbw, us, s.algbw, s.busbw);
    text += buf;
  }
  text += "# Out of bounds values : 0 OK\n# Avg bus bandwidth    : 100.0 \n#\n";
  return text;
}

std::vector<network::CollectiveSample> measure(const hardware::ClusterSpec& c, network::CollectiveOp op, const std::vector<int>& gpus) {
  auto net = network::make_network_model(c);
  return network::bench_collective(*net, op, gpus, network::collective_sizes(1 << 10, 1 << 30, 4));
}

TEST(NcclTestsLog, ReadsRanksHostsOpAndOutOfPlaceTimes) {
  const auto samples = measure(h800(1), network::CollectiveOp::kAllReduce, {0, 1, 2, 3, 4, 5, 6, 7});
  const NcclTestsLog log = parse_nccl_tests_log(nccl_tests_log("all_reduce_perf", "sum", 1, 8, samples), "ar.log");
  EXPECT_EQ(log.op, network::CollectiveOp::kAllReduce);
  EXPECT_EQ(log.ranks, 8);
  EXPECT_EQ(log.nodes, 1);
  ASSERT_EQ(log.rows.size(), samples.size());
  EXPECT_EQ(log.rows[0].bytes, 1024);
  EXPECT_EQ(log.rows[0].line, 18);
  EXPECT_NEAR(log.rows.back().time_us, samples.back().time.seconds() * 1e6, 0.01);
}

TEST(NcclTestsLog, ReadsOlderLogsWithoutRootAndMpirunPrefixes) {
  // nccl-tests before 2.13: no root column, no "Collective test starting" (the file name says it).
  const std::string text =
      "[1,0]<stdout>:# nThread 1 nGpus 1 minBytes 268435456 maxBytes 536870912 step: 2(factor) warmup iters: 5 iters: 20 validation: 1\n"
      "[1,0]<stdout>:#  Rank  0 Pid   1320 on ip-172-31-20-228 device  0 [0x00] Tesla V100-SXM2-16GB\n"
      "[1,1]<stdout>:#  Rank  1 Pid   2066 on ip-172-31-22-230 device  0 [0x00] Tesla V100-SXM2-16GB\n"
      "[1,0]<stdout>:#       size         count      type   redop     time   algbw   busbw  error     time   algbw   busbw  error\n"
      "[1,0]<stdout>:#        (B)    (elements)                       (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)\n"
      "[1,0]<stdout>:   268435456      67108864     float     sum   122131    2.20    4.33  2e-06   122165    2.20    4.33  2e-06\n"
      "[1,0]<stdout>:   536870912     134217728     float     sum   244833    2.19    4.32  2e-06   244844    2.19    4.32  2e-06\n"
      "[1,0]<stdout>:# Avg bus bandwidth    : 4.32178 \n";
  const NcclTestsLog log = parse_nccl_tests_log(text, "logs/all_reduce_perf.2n.txt");
  EXPECT_EQ(log.op, network::CollectiveOp::kAllReduce);
  EXPECT_EQ(log.ranks, 2);
  EXPECT_EQ(log.nodes, 2);
  ASSERT_EQ(log.rows.size(), 2u);
  EXPECT_EQ(log.rows[1].bytes, 536870912);
  EXPECT_EQ(log.rows[1].time_us, 244833);
  EXPECT_DOUBLE_EQ(log.rows[1].busbw, 4.32);
}

TEST(NcclTestsLog, RefusesWhatIsNotAUsableLog) {
  const auto samples = measure(h800(1), network::CollectiveOp::kAllGather, {0, 1, 2, 3, 4, 5, 6, 7});
  const std::string good = nccl_tests_log("all_gather_perf", "none", 1, 8, samples);
  const auto error = [](const std::string& text, const std::string& path = "x.log") {
    try {
      parse_nccl_tests_log(text, path);
    } catch (const LogError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error("size,time\n8,1.0\n"),
            "x.log:1: not nccl-tests output: a line of data before the '#       size         count ...' header");
  EXPECT_EQ(error("# just a comment\n"), "x.log: not nccl-tests output: no '#       size         count      type ...' header line");
  const std::string header_only = good.substr(0, good.find("        1024"));
  EXPECT_EQ(error(header_only), "x.log: no measurements after the header (a truncated log?)");
  const size_t row = good.find("        1024"), time = good.find("-1", row) + 2;
  std::string bad_time = good;
  bad_time.replace(good.find_first_not_of(' ', time), good.find(' ', good.find_first_not_of(' ', time)) - good.find_first_not_of(' ', time),
                   "abc");
  EXPECT_EQ(error(bad_time), "x.log:18: expected a time in microseconds above 0 and below a day, got 'abc'");
  std::string cut = good.substr(0, good.find("     float", good.find("        1024")));
  EXPECT_EQ(error(cut), "x.log:18: expected at least 8 columns (size ... busbw), got 2");
  // Fuzzing found a header whose time column comes after busbw, then a row between the two.
  EXPECT_EQ(error("# Collective test starting: alltoall_perf\n#  size  busbw  time\n1024  5\n"),
            "x.log:3: expected at least 3 columns (size ... busbw), got 2");
  std::string broadcast = good;
  broadcast.replace(broadcast.find("all_gather_perf"), 15, "broadcast_perf");
  EXPECT_NE(error(broadcast).find("x.log:2: a collective moesim does not model"), std::string::npos);
  std::string unnamed = good;
  unnamed.erase(unnamed.find("# Collective test starting"),
                unnamed.find('\n', unnamed.find("# Collective")) - unnamed.find("# Collective") + 1);
  EXPECT_NE(error(unnamed, "run7.log").find("run7.log: cannot tell which collective this log measured"), std::string::npos);
  EXPECT_EQ(error(unnamed, "out/alltoall_perf.log"), "accepted");
}

// A log made with known links, fitted from the preset's: the fit finds them again.
TEST(Calibrate, RecoversTheLinksALogWasMadeWith) {
  hardware::ClusterSpec truth = h800(2);
  truth.intra_node.link.efficiency = 0.6;
  truth.intra_node.link.latency = Microseconds(4);
  truth.nic.link.efficiency = 0.8;
  truth.nic.link.latency = Microseconds(7);
  const std::vector<int> node = {0, 1, 2, 3, 4, 5, 6, 7};
  std::vector<int> both(16);
  for (int i = 0; i < 16; ++i) both[i] = i;
  hardware::ClusterSpec one = truth;
  one.nodes = 1;
  const std::vector<NcclTestsLog> logs = {
      parse_nccl_tests_log(nccl_tests_log("all_reduce_perf", "sum", 1, 8, measure(one, network::CollectiveOp::kAllReduce, node)), "ar.log"),
      parse_nccl_tests_log(nccl_tests_log("alltoall_perf", "none", 2, 8, measure(truth, network::CollectiveOp::kAllToAll, both)),
                           "a2a.log")};
  const Calibration fit = calibrate(h800(4), logs);
  ASSERT_EQ(fit.tiers.size(), 2u);
  EXPECT_EQ(fit.tiers[0].tier, "intra_node");
  EXPECT_NEAR(fit.tiers[0].after.efficiency, 0.6, 0.01);
  EXPECT_NEAR(fit.tiers[0].after.latency.seconds() * 1e6, 4, 0.1);
  EXPECT_EQ(fit.tiers[1].tier, "nic");
  EXPECT_NEAR(fit.tiers[1].after.efficiency, 0.8, 0.01);
  EXPECT_NEAR(fit.tiers[1].after.latency.seconds() * 1e6, 7, 0.2);
  EXPECT_LT(fit.tiers[1].rms_error, 0.01);
  EXPECT_EQ(fit.cluster.nodes, 4);  // the cluster keeps its size
  ASSERT_EQ(fit.residuals.size(), logs[0].rows.size() + logs[1].rows.size());
  for (const auto& r : fit.residuals) EXPECT_NEAR(r.simulated_us / r.measured_us, 1.0, 0.02) << r.path << ":" << r.line;
}

// A cluster that allows NVLink SHARP still has its NVLink fitted on the ring, which a log taken
// without NVLS measures, and keeps NVLS allowed.
TEST(Calibrate, FitsTheRingOnAClusterThatAllowsNvls) {
  hardware::ClusterSpec truth = h800(1);
  truth.intra_node.link.efficiency = 0.6;
  const std::vector<NcclTestsLog> logs = {parse_nccl_tests_log(
      nccl_tests_log("all_reduce_perf", "sum", 1, 8, measure(truth, network::CollectiveOp::kAllReduce, {0, 1, 2, 3, 4, 5, 6, 7})),
      "ar.log")};
  hardware::ClusterSpec start = h800(1);
  start.intra_node.nvls = true;
  const Calibration fit = calibrate(start, logs);
  ASSERT_EQ(fit.tiers.size(), 1u);
  EXPECT_NEAR(fit.tiers[0].after.efficiency, 0.6, 0.01);
  EXPECT_TRUE(fit.cluster.intra_node.nvls);
}

// All-to-alls on 4 and 8 GPUs of a node pay 2 and 6 further peers' overhead over one latency:
// together they tell the two apart. One of them alone cannot, and the overhead is kept.
TEST(Calibrate, FitsTheMessageOverheadWhereTheLogsTellItFromTheLatency) {
  hardware::ClusterSpec truth = h800(1);
  truth.intra_node.link.efficiency = 0.7;
  truth.intra_node.link.latency = Microseconds(5);
  truth.network.message_overhead = Microseconds(2);
  const auto a2a = [&](int ranks) {
    std::vector<int> gpus(static_cast<size_t>(ranks));
    for (int i = 0; i < ranks; ++i) gpus[static_cast<size_t>(i)] = i;
    return parse_nccl_tests_log(nccl_tests_log("alltoall_perf", "none", 1, ranks, measure(truth, network::CollectiveOp::kAllToAll, gpus)),
                                "a2a" + std::to_string(ranks) + ".log");
  };
  const Calibration both = calibrate(h800(1), {a2a(4), a2a(8)});
  EXPECT_EQ(both.overhead.fitted_by, "intra_node");
  EXPECT_EQ(both.overhead.before, Duration());
  EXPECT_NEAR(both.overhead.after.seconds() * 1e6, 2, 0.05);
  EXPECT_NEAR(both.cluster.network.message_overhead.seconds() * 1e6, 2, 0.05);
  EXPECT_NEAR(both.tiers[0].after.latency.seconds() * 1e6, 5, 0.2);
  EXPECT_NEAR(both.tiers[0].after.efficiency, 0.7, 0.01);
  EXPECT_LT(both.tiers[0].rms_error, 0.01);

  hardware::ClusterSpec start = h800(1);
  start.network.message_overhead = Nanoseconds(300);
  const Calibration one = calibrate(start, {a2a(8)});
  EXPECT_EQ(one.overhead.fitted_by, "");
  EXPECT_EQ(one.overhead.after, Nanoseconds(300));
  EXPECT_EQ(one.cluster.network.message_overhead, Nanoseconds(300));
  // The latency takes what the overhead would have: 5 + 6 x (2 - 0.3) us.
  EXPECT_NEAR(one.tiers[0].after.latency.seconds() * 1e6, 5 + 6 * 1.7, 0.3);
}

TEST(Calibrate, RefusesALogTheClusterCannotRun) {
  hardware::ClusterSpec c = h800(1);
  c.gpus_per_node = 4;
  const std::vector<NcclTestsLog> logs = {parse_nccl_tests_log(
      nccl_tests_log("all_reduce_perf", "sum", 1, 8, measure(h800(1), network::CollectiveOp::kAllReduce, {0, 1, 2, 3, 4, 5, 6, 7})),
      "ar.log")};
  try {
    calibrate(c, logs);
    FAIL() << "accepted";
  } catch (const LogError& e) {
    EXPECT_STREQ(e.what(), "ar.log: 8 ranks per host, more than the cluster's 4 GPUs per node");
  }
}

}  // namespace
}  // namespace moesim::calibrate
