// `moesim bench collective`: nccl-tests' layout on a scenario's cluster, and its bad options.
#include <sstream>

#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

// The table's rows: size, count, type, redop, root, time, algbw, busbw.
struct Row {
  long long size = 0, count = 0;
  std::string type, redop;
  int root = 0;
  double time = 0, algbw = 0, busbw = 0;
};
std::vector<Row> rows(const std::string& out) {
  std::vector<Row> all;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    Row r;
    std::istringstream(line) >> r.size >> r.count >> r.type >> r.redop >> r.root >> r.time >> r.algbw >> r.busbw;
    all.push_back(r);
  }
  return all;
}

TEST_F(Cli, BenchCollectivePrintsNcclTestsColumns) {
  const Result r = moesim("bench collective " + quickstart() + " --op all_to_all --sizes 1K:1G:8");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("alltoall_perf simulated on quickstart: 4 x h100-dgx, GPUs 0-31, analytic network model"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("#       size         count      type   redop    root     time   algbw   busbw"), std::string::npos);
  const auto table = rows(r.out);
  ASSERT_EQ(table.size(), 7u);  // 1K, 8K, ..., 256M: sizes at most 1G
  EXPECT_EQ(table.front().size, 1024);
  EXPECT_EQ(table.front().count, 1024 / 4 / 32);
  EXPECT_EQ(table.back().size, 268435456);
  EXPECT_EQ(table.back().type, "float");
  EXPECT_EQ(table.back().redop, "none");
  EXPECT_EQ(table.back().root, -1);
  // algbw = size / time, busbw = algbw x 31/32, to the printed precision.
  EXPECT_NEAR(table.back().algbw, static_cast<double>(table.back().size) / table.back().time / 1e3, 0.05);
  EXPECT_NEAR(table.back().busbw, table.back().algbw * 31 / 32, 0.01);
  for (size_t i = 1; i < table.size(); ++i) EXPECT_GT(table[i].busbw, table[i - 1].busbw);  // latency fades
  EXPECT_NE(r.out.find("# Avg bus bandwidth"), std::string::npos);
}

TEST_F(Cli, BenchCollectiveOnAGroupOfGpusUnderTheFlowModel) {
  const Result r =
      moesim("bench collective " + quickstart() + " --op all_reduce --gpus 8 --sizes 1G:1G:2 --set cluster.network.model=flow");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto table = rows(r.out);
  ASSERT_EQ(table.size(), 1u);
  EXPECT_EQ(table[0].count, (1LL << 30) / 4);
  EXPECT_EQ(table[0].redop, "sum");
  EXPECT_NEAR(table[0].busbw / 370, 1.0, 0.15);  // nccl-tests issue #212, 8 x H100
  EXPECT_NE(r.out.find("GPUs 0-7, flow network model"), std::string::npos);
}

TEST_F(Cli, BenchCollectiveReadsAFileWithOnlyACluster) {
  const fs::path cluster = write("h800.yaml", "name: my-h800\ncluster: {preset: h800-dgx, nodes: 2}\n");
  const Result r = moesim("bench collective " + cluster.string() + " --op reduce_scatter --sizes 1G:1G:2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("reduce_scatter_perf simulated on my-h800: 2 x h800-dgx, GPUs 0-15"), std::string::npos) << r.out;
  EXPECT_EQ(rows(r.out).at(0).count, (1LL << 30) / 4 / 16);
  const fs::path bad = write("bad.yaml", "cluster: {preset: h800-dgx, nodes: 2, nic: {count: 3}}\n");
  const Result e = moesim("bench collective " + bad.string() + " --op all_reduce");
  EXPECT_EQ(e.status, 2);
  EXPECT_NE(e.err.find("`cluster.nic.count`: expected a divisor of gpus_per_node (8), got 3"), std::string::npos) << e.err;
}

TEST_F(Cli, BenchCollectiveRejectsBadOptionsInOneLine) {
  const std::string base = "bench collective " + quickstart();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" --op broadcast", "--op: expected all_reduce | all_gather | reduce_scatter | all_to_all | dispatch | combine, got 'broadcast'"},
      {"", "--op is required"},
      {" --op all_reduce --sizes 8:1G", "--sizes 8:1G: expected MIN:MAX:FACTOR"},
      {" --op all_reduce --sizes 8:1X:2", "--sizes 8:1X:2: expected MIN:MAX:FACTOR, sizes in bytes with an optional K, M or G"},
      {" --op all_reduce --sizes 1G:8:2", "expected MAX at least MIN"},
      {" --op all_reduce --sizes 8:1G:1", "expected a FACTOR above 1, got '1'"},
      {" --op all_reduce --sizes 0:1G:2", "expected sizes from 1 byte to 1T, got '0'"},
      {" --op all_reduce --sizes 1:1000G:1.001", "expected at most 4096 sizes"},
      {" --op all_reduce --gpus 64", "--gpus: expected 2 to the cluster's 32 GPUs, got 64"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = moesim(base + args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    EXPECT_EQ(r.out, "") << args;
  }
  const Result usage = moesim("bench latency");
  EXPECT_EQ(usage.status, 2);
  EXPECT_NE(usage.err.find("expected `moesim bench collective SCENARIO --op OP`"), std::string::npos) << usage.err;
}

// DeepSeek-V3's routing on 8 H800 nodes, as DeepEP's internode test runs it: EP64, 4,096 tokens
// per rank, top-8 of 256 experts in 8 groups of which a token uses 4, FP8 dispatch.
const char* kDeepEp =
    "cluster: {preset: h800-dgx, nodes: 8}\n"
    "model: {preset: deepseek-v3, layers: 2, mtp_layers: 0, first_moe_layer: 0}\n"
    "parallelism: {ep: 64, zero: 1}\n"
    "training: {global_batch: 64, micro_batch: 1, seq_len: 4096}\n"
    "dispatch: {kernel: deepep, dtype: fp8}\n"
    "gating: {source: balanced}\n";

TEST_F(Cli, BenchDispatchPrintsDeepEpsBandwidths) {
  const fs::path scenario = write("deepep.yaml", kDeepEp);
  const Result r = moesim("bench collective " + scenario.string() + " --op dispatch");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("DeepEP-style dispatch simulated on deepep: EP 64 over 8 nodes of h800-dgx"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4096 tokens per rank, hidden 7168, top-8 of 256 experts (8 groups, top 4), 1.031 bytes per element"),
            std::string::npos)
      << r.out;
  // Across nodes DeepEP runs its internode kernel, at that kernel's SM rate.
  EXPECT_NE(r.out.find("# DeepEP's internode kernel: 20 SMs at 6.14 GB/s each\n"), std::string::npos) << r.out;
  const Result one_node = moesim("bench collective " + scenario.string() + " --op dispatch --ep 8");
  EXPECT_NE(one_node.out.find("# DeepEP's intranode kernel: 20 SMs at 12.46 GB/s each, NVLink at 0.848 of its effective rate\n"),
            std::string::npos)
      << one_node.out << one_node.err;
  // Group-limited routing: a token reaches at most its 4 groups' nodes.
  const size_t at = r.out.find("GPUs on ");
  ASSERT_NE(at, std::string::npos);
  const double nodes = std::stod(r.out.substr(at + 8));
  EXPECT_LE(nodes, 4.0);
  EXPECT_GT(nodes, 3.8);
  std::istringstream row(r.out.substr(r.out.find("\n dispatch") + 1));
  std::string op;
  double time = 0, nvl = 0, rdma = 0;
  row >> op >> time >> nvl >> rdma;
  EXPECT_EQ(op, "dispatch");
  // RDMA = tokens x nodes per token x hidden x bytes per element / time.
  EXPECT_NEAR(rdma, 4096 * nodes * 7168 * (1 + 4.0 / 128) / (time * 1e3), 0.01 * rdma);
  const Result combine = moesim("bench collective " + scenario.string() + " --op combine");
  ASSERT_EQ(combine.status, 0) << combine.err;
  EXPECT_NE(combine.out.find("2 bytes per element"), std::string::npos) << combine.out;
  const Result sizes = moesim("bench collective " + scenario.string() + " --op dispatch --sizes 1M:1G:2");
  EXPECT_EQ(sizes.status, 2);
  EXPECT_NE(sizes.err.find("--sizes: not with --op dispatch"), std::string::npos) << sizes.err;
  // --ep picks the EP group's size on the same cluster.
  const Result ep32 = moesim("bench collective " + scenario.string() + " --op dispatch --ep 32");
  ASSERT_EQ(ep32.status, 0) << ep32.err;
  EXPECT_NE(ep32.out.find("EP 32 over 4 nodes of h800-dgx"), std::string::npos) << ep32.out;
  const Result ep48 = moesim("bench collective " + scenario.string() + " --op dispatch --ep 48");
  EXPECT_EQ(ep48.status, 2);
  EXPECT_NE(ep48.err.find("`parallelism.ep`: expected a divisor of tp x cp x dp / etp = 64 / 1"), std::string::npos) << ep48.err;
  EXPECT_NE(ep48.err.find("got 48 (--ep 48)"), std::string::npos) << ep48.err;
  const Result collective = moesim("bench collective " + scenario.string() + " --op all_reduce --ep 8");
  EXPECT_EQ(collective.status, 2);
  EXPECT_NE(collective.err.find("--ep: only with --op dispatch or combine"), std::string::npos) << collective.err;
}

std::string log_file() { return std::string(MOESIM_SOURCE_DIR) + "/tests/e2e/data/all_reduce_perf_8xh100.log"; }

TEST_F(Cli, CalibrateFitsTheClusterToAnNcclTestsLogAndWritesIt) {
  const fs::path out = dir_ / "fitted.yaml";
  const Result r = moesim("calibrate " + quickstart() + " --nccl-tests " + log_file() + " --out " + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("calibration of quickstart (h100-dgx) from 1 nccl-tests log, 6 sizes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all_reduce_perf_8xh100.log:18"), std::string::npos);  // a residual per size, by line
  // The fitted efficiency, as printed, is the one the file holds and bench collective uses.
  const size_t at = r.out.find("efficiency");
  std::istringstream fields(r.out.substr(at + 10));
  double before = 0, fitted = 0;
  fields >> before >> fitted;
  EXPECT_DOUBLE_EQ(before, 0.82);
  EXPECT_GT(fitted, 0.85);
  EXPECT_LE(fitted, 1.0);
  // An all-reduce log cannot separate the all-to-all's per-peer overhead from the latency.
  EXPECT_NE(r.out.find("cluster.network        overhead        0.00 us      0.00 us  kept: only alltoall_perf at two rank counts"),
            std::string::npos)
      << r.out;
  const std::string yaml = slurp(out);
  EXPECT_NE(yaml.find("name: quickstart-calibrated"), std::string::npos);
  const Result bench = moesim("bench collective " + out.string() + " --op all_reduce --gpus 8 --sizes 1G:1G:2");
  ASSERT_EQ(bench.status, 0) << bench.err;
  const auto row = rows(bench.out).at(0);
  EXPECT_NEAR(row.time, 4590.2, 0.05 * 4590.2);  // the log's 1 GiB time, within the fit's error
}

TEST_F(Cli, CalibrateRefusesBadLogsInOneLine) {
  const fs::path truncated = write("all_reduce_perf.log", slurp(log_file()).substr(0, slurp(log_file()).find("     1048576")));
  const fs::path csv = write("alltoall_perf.csv", "size,time\n8,1.0\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "calibrate: expected --nccl-tests LOG... or --deepep LOG... (or both)"},
      {" --nccl-tests " + truncated.string(), "all_reduce_perf.log: no measurements after the header (a truncated log?)"},
      {" --nccl-tests " + csv.string(), "alltoall_perf.csv:1: not nccl-tests output"},
      {" --nccl-tests " + (dir_ / "missing.log").string(), "missing.log: expected a readable nccl-tests log file"},
      {" --nccl-tests " + log_file() + " --out " + log_file(), "--out"},
      {" --nccl-tests " + log_file() + " --set cluster.gpus_per_node=4 --set cluster.nic.count=4",
       "8 ranks per host, more than the cluster's 4 GPUs per node"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = moesim("calibrate " + quickstart() + args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}

std::string deepep_log(const std::string& name) { return std::string(MOESIM_SOURCE_DIR) + "/tests/e2e/data/" + name; }

// H800 nodes, as DeepEP's published runs.
const char* kH800 = "name: h800\ncluster: {preset: h800-dgx, nodes: 2}\n";

// The "before" and "fitted" rates on a parameter's line of `calibrate --deepep`'s table.
std::pair<double, double> sm_rates(const std::string& out, const std::string& key) {
  const size_t at = out.find("  " + key + " ");
  EXPECT_NE(at, std::string::npos) << out;
  std::istringstream fields(out.substr(at + key.size() + 2));
  double before = 0, fitted = 0;
  std::string unit;
  fields >> before >> unit >> fitted;
  return {before, fitted};
}

TEST_F(Cli, CalibrateFitsDeepEpsSmRatesToItsTestLogs) {
  // Illustrative logs in DeepEP's format (tests/e2e/data), around its published 153 GB/s (EP 8,
  // NVLink) and 43 GB/s (EP 16, RDMA) with 24 SMs.
  const fs::path cluster = write("h800.yaml", kH800), out = dir_ / "h800-fitted.yaml";
  const Result r = moesim("calibrate " + cluster.string() + " --deepep " + deepep_log("deepep_intranode_h800.log") + " " +
                          deepep_log("deepep_internode_h800_ep16.log") + " --ep 16 --out " + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("from 2 DeepEP logs, 34 tuning lines"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deepep_intranode_h800.log:28      combine           8   24    NVL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deepep_internode_h800_ep16.log:5  dispatch FP8     16   24   RDMA"), std::string::npos) << r.out;
  // H800's NVLink, not the intranode kernel's SMs, binds its EP 8 lines: they leave that rate.
  const auto [intra_before, intra_fitted] = sm_rates(r.out, "cluster.gpu.comm_sm_bandwidth_intranode");
  EXPECT_DOUBLE_EQ(intra_before, 12.46);
  EXPECT_DOUBLE_EQ(intra_fitted, 12.46);
  EXPECT_NE(r.out.find("kept: its 3 blocks fit as well without an SM cap"), std::string::npos) << r.out;
  // The EP 16 lines bind the internode kernel's SMs.
  const auto [before, fitted] = sm_rates(r.out, "cluster.gpu.comm_sm_bandwidth");
  EXPECT_DOUBLE_EQ(before, 6.14);
  EXPECT_GT(fitted, 5.5);
  EXPECT_LT(fitted, 6.8);
  EXPECT_NE(fitted, before);
  // The file holds the fitted rate, and a scenario on it dispatches at that rate.
  const std::string yaml = slurp(out);
  EXPECT_NE(yaml.find("comm_sm_bandwidth:"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("comm_sm_bandwidth: 6.14 GB/s"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("comm_sm_bandwidth_intranode: 12.46 GB/s"), std::string::npos) << yaml;
}

TEST_F(Cli, CalibrateRecoversTheSmRateADeepEpLogWasMadeWith) {
  // DeepEP's intranode test as moesim simulates it at 4.2 GB/s per SM of the intranode kernel
  // (where those SMs bind, not H800's NVLink): a log of those figures calibrates back to 4.2.
  const std::string bench = "bench collective " + std::string(MOESIM_SOURCE_DIR) +
                            "/scenarios/deepep_dispatch.yaml --set cluster.nodes=1 --set parallelism.ep=8 --set training.global_batch=8 "
                            "--set model.expert_groups=1 --set model.topk_groups=1 --set cluster.gpu.comm_sm_bandwidth_intranode=4.2GB/s "
                            "--op ";
  const auto nvl = [&](const std::string& op) {
    const Result r = moesim(bench + op);
    EXPECT_EQ(r.status, 0) << r.err;
    std::istringstream row(r.out.substr(r.out.rfind('#')));  // the row follows the last comment line
    row.ignore(1 << 12, '\n');
    std::string name;
    double time = 0, figure = 0;
    row >> name >> time >> figure;
    return figure;
  };
  char text[512];
  std::snprintf(text, sizeof text,
                "[config] num_tokens=4096, hidden=7168, num_topk=8\n"
                "[tuning] SMs 24, NVL chunk 8: %.2f GB/s (NVL) \n[tuning] Best dispatch (FP8): SMs 24, NVL chunk 8, %.2f GB/s (NVL)\n\n"
                "[tuning] SMs 24, NVL chunk 4: %.2f GB/s (NVL) \n[tuning] Best combine: SMs 24, NVL chunk 4: %.2f GB/s (NVL)\n",
                nvl("dispatch"), nvl("dispatch"), nvl("combine"), nvl("combine"));
  const fs::path log = write("made.log", text), cluster = write("h800.yaml", "name: h800\ncluster: {preset: h800-dgx}\n");
  const Result r = moesim("calibrate " + cluster.string() + " --deepep " + log.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NEAR(sm_rates(r.out, "cluster.gpu.comm_sm_bandwidth_intranode").second, 4.2, 0.01);
  EXPECT_NE(r.out.find("kept: no log of this kernel"), std::string::npos) << r.out;
}

TEST_F(Cli, CalibrateRefusesBadDeepEpLogsInOneLine) {
  const fs::path cluster = write("h800.yaml", kH800);
  const std::string intranode = slurp(deepep_log("deepep_intranode_h800.log"));
  const fs::path truncated = write("truncated.log", intranode.substr(0, intranode.find("[tuning] Best dispatch (BF16)")));
  const fs::path garbled =
      write("garbled.log", "[config] num_tokens=4096, hidden=7168, num_topk=8\n[tuning] SMs 24, NVL chunk 4: fast (NVL)\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" --deepep " + deepep_log("deepep_internode_h800_ep16.log"), "give --ep N"},
      {" --deepep " + deepep_log("deepep_internode_h800_ep16.log") + " --ep 20", "expected EP 20 to be two or more whole nodes"},
      {" --deepep " + deepep_log("deepep_internode_h800_ep16.log") + " --ep 8", "--ep: expected 16 to 256"},
      {" --deepep " + truncated.string(), "truncated.log: [tuning] lines without the 'Best dispatch' or 'Best combine' line"},
      {" --deepep " + garbled.string(), "garbled.log:2: expected DeepEP's '[tuning] SMs N"},
      {" --deepep " + log_file(), "all_reduce_perf_8xh100.log: not a DeepEP test log"},
      {" --deepep " + deepep_log("deepep_intranode_h800.log") + " --set cluster.gpus_per_node=4 --set cluster.nic.count=4",
       "expected EP 8 to be one whole node of the cluster's 4 GPUs per node"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = moesim("calibrate " + cluster.string() + args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace moesim::e2e
