#include "sim/cli/calibrate_command.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "scenarios/loader/loader.h"
#include "sim/calibrate/deepep_fit.h"
#include "sim/calibrate/fit.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/usage_error.h"
#include "sim/files/output_file.h"

namespace po = boost::program_options;

namespace moesim::cli {
namespace {

constexpr size_t kMaxLogs = 1024;

const char* tier_name(const std::string& tier) { return tier == "nic" ? "NIC (between nodes)" : "NVLink (inside a node)"; }

// The NVLink and NIC fit from nccl-tests logs.
void print_nccl_fit(const std::vector<calibrate::NcclTestsLog>& logs, const calibrate::Calibration& fit, const std::string& name,
                    const std::string& preset) {
  size_t sizes = 0;
  for (const auto& log : logs) sizes += log.rows.size();
  std::printf("calibration of %s (%s) from %zu nccl-tests log%s, %zu sizes; out-of-place times, least squares on relative error\n",
              name.c_str(), preset.c_str(), logs.size(), logs.size() == 1 ? "" : "s", sizes);
  std::printf("  %-24s %-10s %12s %12s  %s\n", "tier (cluster key)", "parameter", "before", "fitted", "rms error after");
  for (const auto& t : fit.tiers) {
    std::printf("  %-24s %-10s %12.3f %12.3f  %.1f %% over %d sizes of %d log%s\n", tier_name(t.tier), "efficiency", t.before.efficiency,
                t.after.efficiency, 100 * t.rms_error, t.sizes, t.logs, t.logs == 1 ? "" : "s");
    std::printf("  %-24s %-10s %9.2f us %9.2f us\n", ("  cluster." + t.tier).c_str(), "latency", t.before.latency.seconds() * 1e6,
                t.after.latency.seconds() * 1e6);
  }
  const calibrate::OverheadFit& o = fit.overhead;
  std::printf("  %-24s %-10s %9.2f us %9.2f us  %s\n", "  cluster.network", "overhead", o.before.seconds() * 1e6, o.after.seconds() * 1e6,
              o.fitted_by.empty() ? "kept: only alltoall_perf at two rank counts, or beside a ring collective, tells it from latency"
                                  : ("fitted with the " + std::string(tier_name(o.fitted_by)) + " tier").c_str());
  std::printf("\nper size: measured and simulated out-of-place time\n");
  const auto where = [](const calibrate::Residual& r) { return r.path + ":" + std::to_string(r.line); };
  int width = 8;  // "log:line"
  for (const auto& r : fit.residuals) width = std::max(width, static_cast<int>(where(r).size()));
  std::printf("  %-*s %-14s %5s %5s %12s %12s %12s %8s\n", width, "log:line", "collective", "ranks", "nodes", "size (B)", "measured us",
              "moesim us", "error");
  for (const auto& r : fit.residuals) {
    std::printf("  %-*s %-14s %5d %5d %12lld %12.2f %12.2f %+7.1f %%\n", width, where(r).c_str(),
                std::string(network::collective_ops()[static_cast<size_t>(r.op)].name).c_str(), r.ranks, r.nodes,
                static_cast<long long>(r.bytes), r.measured_us, r.simulated_us, 100 * (r.simulated_us / r.measured_us - 1));
  }
}

// The SM rate of DeepEP's normal kernels from its test logs.
void print_deepep_fit(const std::vector<calibrate::DeepEpLog>& logs, const calibrate::DeepEpCalibration& fit, const std::string& name,
                      const std::string& preset) {
  std::printf(
      "calibration of %s (%s) from %zu DeepEP log%s, %zu tuning lines; bandwidths as DeepEP defines them, least squares on "
      "the log ratio of each block's best line\n",
      name.c_str(), preset.c_str(), logs.size(), logs.size() == 1 ? "" : "s", fit.residuals.size());
  std::printf("  %-40s %12s %12s  %s\n", "parameter (cluster key)", "before", "fitted", "from");
  const auto rate = [](const char* key, const calibrate::SmRateFit& f) {
    const std::string from = f.blocks == 0 ? "kept: no log of this kernel"
                             : f.bound     ? "fitted on " + std::to_string(f.blocks) + " blocks"
                                           : "kept: its " + std::to_string(f.blocks) + " blocks fit as well without an SM cap";
    std::printf("  %-40s %7.2f GB/s %7.2f GB/s  %s\n", key, f.before.bytes_per_second() / 1e9, f.after.bytes_per_second() / 1e9,
                from.c_str());
  };
  rate("cluster.gpu.comm_sm_bandwidth_intranode", fit.intranode);
  rate("cluster.gpu.comm_sm_bandwidth", fit.internode);
  std::printf("  rms error after: %.1f %% over the best line of each of %zu blocks (a kernel, precision and SM count)\n",
              100 * fit.rms_error, fit.blocks);
  std::printf("\nper tuning line: measured and simulated bandwidth\n");
  const auto where = [](const calibrate::DeepEpResidual& r) { return r.path + ":" + std::to_string(r.line); };
  int width = 8;
  for (const auto& r : fit.residuals) width = std::max(width, static_cast<int>(where(r).size()));
  std::printf("  %-*s %-14s %4s %4s %6s %14s %14s %8s\n", width, "log:line", "kernel", "EP", "SMs", "figure", "measured GB/s",
              "moesim GB/s", "error");
  for (const auto& r : fit.residuals) {
    const std::string kernel = r.combine ? "combine" : r.fp8 ? "dispatch FP8" : "dispatch BF16";
    std::printf("  %-*s %-14s %4d %4d %6s %14.2f %14.2f %+7.1f %%\n", width, where(r).c_str(), kernel.c_str(), r.ep, r.sms,
                r.rdma ? "RDMA" : "NVL", r.measured_gbps, r.simulated_gbps, 100 * (r.simulated_gbps / r.measured_gbps - 1));
  }
}

// DeepEP's intranode test runs on the 8 GPUs of one node; its internode test on --ep of them.
constexpr int kIntranodeRanks = 8;

// The scenario that runs a DeepEP log's test on the cluster (calibrate::DeepEpCase).
calibrate::DeepEpCase deepep_case(const hardware::ClusterSpec& cluster, const calibrate::DeepEpLog& log, int ep) {
  const int ranks = log.internode ? ep : kIntranodeRanks;
  if (log.internode && ep <= 0)
    throw calibrate::LogError(log.path + ": an internode log, and DeepEP's logs do not say on how many GPUs: give --ep N");
  const int per_node = cluster.gpus_per_node;
  if (ranks % per_node != 0 || (log.internode ? ranks == per_node : ranks != per_node))
    throw calibrate::LogError(log.path + ": expected EP " + std::to_string(ranks) + " to be " +
                              (log.internode ? "two or more whole nodes" : "one whole node") + " of the cluster's " +
                              std::to_string(per_node) + " GPUs per node");
  const int nodes = ranks / per_node;
  std::string text = scenarios::cluster_yaml("deepep-" + std::to_string(ranks), cluster);
  // As DeepEP's tests: 256 experts rounded down to a multiple of the ranks, groups = nodes.
  text += "model: {preset: deepseek-v3, layers: 2, mtp_layers: 0, first_moe_layer: 0, hidden: " + std::to_string(log.hidden) +
          ", top_k: " + std::to_string(log.top_k) + ", experts: " + std::to_string((256 / ranks) * ranks) +
          ", expert_groups: " + std::to_string(log.internode ? nodes : 1) +
          ", topk_groups: " + std::to_string(log.internode ? std::min(log.topk_groups, nodes) : 1) + "}\n";
  text += "parallelism: {ep: " + std::to_string(ranks) + ", zero: 1}\n";
  text += "training: {global_batch: " + std::to_string(ranks) + ", micro_batch: 1, seq_len: " + std::to_string(log.tokens) + "}\n";
  text += "dispatch: {kernel: deepep}\ngating: {source: balanced}\nsteps: 1\n";
  try {
    return {&log, ranks, scenarios::load_scenario_text(text, log.path, {"cluster.nodes=" + std::to_string(nodes)})};
  } catch (const scenarios::ScenarioError& e) {
    throw calibrate::LogError(log.path + ": the cluster cannot run this log's test: " + e.what());
  }
}

template <typename Log>
std::vector<Log> read_logs(const po::variables_map& vm, const char* option, Log (*read)(const std::string&)) {
  std::vector<Log> logs;
  if (!vm.count(option)) return logs;
  const auto paths = vm[option].as<std::vector<std::string>>();
  if (paths.size() > kMaxLogs) throw OptionError(std::string("--") + option + ": expected at most " + std::to_string(kMaxLogs) + " logs");
  for (const auto& path : paths) logs.push_back(read(path));
  return logs;
}

}  // namespace

int cmd_calibrate(const std::vector<std::string>& args) {
  po::options_description o("moesim calibrate options");
  o.add_options()("help,h", "show this help")("nccl-tests", po::value<std::vector<std::string>>()->multitoken()->value_name("LOG..."),
                                              "nccl-tests logs (all_reduce_perf, all_gather_perf, reduce_scatter_perf, alltoall_perf)")(
      "deepep", po::value<std::vector<std::string>>()->multitoken()->value_name("LOG..."),
      "DeepEP test logs (test_intranode.py, test_internode.py): fits what one SM of its kernels moves")(
      "ep", po::value<int>()->value_name("N"), "the EP size the internode DeepEP logs ran on (their logs do not print it)")(
      "out", po::value<std::string>()->value_name("FILE"), "write the fitted cluster as a cluster file (moesim bench collective reads it)");
  o.add(scenario_options());
  bool help = false;
  const auto vm = parse(args, o,
                        "usage: moesim calibrate CLUSTER_OR_SCENARIO [--nccl-tests LOG...] [--deepep LOG... [--ep N]] [--out FILE] "
                        "[--set key.path=value]...",
                        help);
  if (help) return 0;
  const ScenarioArgs a = scenario_args(vm, "calibrate");
  if (!vm.count("nccl-tests") && !vm.count("deepep"))
    throw OptionError("calibrate: expected --nccl-tests LOG... or --deepep LOG... (or both)");
  const int ep = vm.count("ep") ? vm["ep"].as<int>() : 0;
  if (vm.count("ep") && (ep < 16 || ep > 256))
    throw OptionError("--ep: expected 16 to 256 (DeepEP's internode tests), got " + std::to_string(ep));
  std::vector<std::string> inputs = {a.path};
  if (vm.count("out")) {
    for (const char* option : {"nccl-tests", "deepep"}) {
      if (!vm.count(option)) continue;
      const auto& paths = vm[option].as<std::vector<std::string>>();
      inputs.insert(inputs.end(), paths.begin(), paths.end());
    }
    require_output_file("--out", vm["out"].as<std::string>(), files::Target::kStream, inputs);
  }
  const scenarios::ClusterFile file = scenarios::load_cluster_file(a.path, a.overrides);
  const auto nccl = read_logs(vm, "nccl-tests", &calibrate::read_nccl_tests_log);
  const auto deepep = read_logs(vm, "deepep", &calibrate::read_deepep_log);
  hardware::ClusterSpec cluster = file.cluster;
  if (!nccl.empty()) {
    const calibrate::Calibration fit = calibrate::calibrate(cluster, nccl);
    print_nccl_fit(nccl, fit, file.name, cluster.preset);
    cluster = fit.cluster;
  }
  if (!deepep.empty()) {
    std::vector<calibrate::DeepEpCase> cases;
    for (const auto& log : deepep) cases.push_back(deepep_case(cluster, log, ep));
    const calibrate::DeepEpCalibration fit = calibrate::calibrate_deepep(cluster, cases);
    if (!nccl.empty()) std::printf("\n");
    print_deepep_fit(deepep, fit, file.name, cluster.preset);
    cluster = fit.cluster;
  }
  if (vm.count("out")) {
    const std::string out = vm["out"].as<std::string>();
    try {
      files::write_file_atomically(out, scenarios::cluster_yaml(file.name + "-calibrated", cluster), files::Target::kStream);
    } catch (const files::FileError& e) {
      throw OptionError(std::string("--out: ") + e.what());
    }
    std::printf("\nwrote %s\n", out.c_str());
  }
  return 0;
}

}  // namespace moesim::cli
