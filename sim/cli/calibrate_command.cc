#include "sim/cli/calibrate_command.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "scenarios/loader/loader.h"
#include "sim/calibrate/fit.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/usage_error.h"
#include "sim/files/output_file.h"

namespace po = boost::program_options;

namespace moesim::cli {
namespace {

constexpr size_t kMaxLogs = 1024;

const char* tier_name(const std::string& tier) { return tier == "nic" ? "NIC (between nodes)" : "NVLink (inside a node)"; }

}  // namespace

int cmd_calibrate(const std::vector<std::string>& args) {
  po::options_description o("moesim calibrate options");
  o.add_options()("help,h", "show this help")("nccl-tests", po::value<std::vector<std::string>>()->multitoken()->value_name("LOG..."),
                                              "nccl-tests logs (all_reduce_perf, all_gather_perf, reduce_scatter_perf, alltoall_perf)")(
      "out", po::value<std::string>()->value_name("FILE"), "write the fitted cluster as a cluster file (moesim bench collective reads it)");
  o.add(scenario_options());
  bool help = false;
  const auto vm =
      parse(args, o, "usage: moesim calibrate CLUSTER_OR_SCENARIO --nccl-tests LOG... [--out FILE] [--set key.path=value]...", help);
  if (help) return 0;
  const ScenarioArgs a = scenario_args(vm, "calibrate");
  if (!vm.count("nccl-tests")) throw OptionError("calibrate: --nccl-tests LOG... is required");
  const auto paths = vm["nccl-tests"].as<std::vector<std::string>>();
  if (paths.size() > kMaxLogs) throw OptionError("--nccl-tests: expected at most " + std::to_string(kMaxLogs) + " logs");
  std::vector<std::string> inputs = paths;
  inputs.push_back(a.path);
  if (vm.count("out")) require_output_file("--out", vm["out"].as<std::string>(), files::Target::kStream, inputs);
  const scenarios::ClusterFile cluster = scenarios::load_cluster_file(a.path, a.overrides);
  std::vector<calibrate::NcclTestsLog> logs;
  for (const auto& path : paths) logs.push_back(calibrate::read_nccl_tests_log(path));
  const calibrate::Calibration fit = calibrate::calibrate(cluster.cluster, logs);

  size_t sizes = 0;
  for (const auto& log : logs) sizes += log.rows.size();
  std::printf("calibration of %s (%s) from %zu nccl-tests log%s, %zu sizes; out-of-place times, least squares on relative error\n",
              cluster.name.c_str(), cluster.cluster.preset.c_str(), logs.size(), logs.size() == 1 ? "" : "s", sizes);
  std::printf("  %-24s %-10s %12s %12s  %s\n", "tier (cluster key)", "parameter", "before", "fitted", "rms error after");
  for (const auto& t : fit.tiers) {
    std::printf("  %-24s %-10s %12.3f %12.3f  %.1f %% over %d sizes of %d log%s\n", tier_name(t.tier), "efficiency", t.before.efficiency,
                t.after.efficiency, 100 * t.rms_error, t.sizes, t.logs, t.logs == 1 ? "" : "s");
    std::printf("  %-24s %-10s %9.2f us %9.2f us\n", ("  cluster." + t.tier).c_str(), "latency", t.before.latency.seconds() * 1e6,
                t.after.latency.seconds() * 1e6);
  }
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
  if (vm.count("out")) {
    const std::string out = vm["out"].as<std::string>();
    try {
      files::write_file_atomically(out, scenarios::cluster_yaml(cluster.name + "-calibrated", fit.cluster), files::Target::kStream);
    } catch (const files::FileError& e) {
      throw OptionError(std::string("--out: ") + e.what());
    }
    std::printf("\nwrote %s\n", out.c_str());
  }
  return 0;
}

}  // namespace moesim::cli
