#include "sim/cli/bench_command.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "scenarios/loader/loader.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/usage_error.h"
#include "sim/dispatch_bench.h"
#include "sim/network/collective_bench.h"
#include "sim/resources.h"
#include "sim/step/dispatch_cost.h"
#include "sim/step/dispatcher.h"

namespace po = boost::program_options;

namespace moesim::cli {
namespace {

constexpr int64_t kMaxBytes = int64_t{1} << 40;  // 1 TiB per rank: beyond any GPU's memory
constexpr size_t kMaxSizes = 4096;

int64_t parse_size(const std::string& text, const std::string& whole) {
  const auto bad = [&]() {
    return OptionError("--sizes " + whole + ": expected MIN:MAX:FACTOR, sizes in bytes with an optional K, M or G (1024^1..3), got '" +
                       text + "'");
  };
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    throw bad();
  }
  int64_t scale = 1;
  if (used + 1 == text.size()) {
    switch (text[used]) {
      case 'K':
      case 'k': scale = int64_t{1} << 10; break;
      case 'M':
      case 'm': scale = int64_t{1} << 20; break;
      case 'G':
      case 'g': scale = int64_t{1} << 30; break;
      default: throw bad();
    }
  } else if (used != text.size()) {
    throw bad();
  }
  if (value < 1 || value > kMaxBytes / scale)
    throw OptionError("--sizes " + whole + ": expected sizes from 1 byte to 1T, got '" + text + "'");
  return value * scale;
}

// nccl-tests prints a time of 10 ms or more without decimals, of 100 us or more with one.
std::string format_time(double us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, us >= 10000 ? "%7.0f" : us >= 100 ? "%7.1f" : "%7.2f", us);
  return buf;
}

// DeepEP's layout: one MoE layer's dispatch or combine on the scenario's EP group.
int bench_dispatch_command(const ScenarioArgs& a, bool dispatch, int ep) {
  std::vector<scenarios::Override> overrides;
  for (const auto& o : a.overrides) overrides.push_back({o, ""});
  if (ep > 0) overrides.push_back({"parallelism.ep=" + std::to_string(ep), "--ep " + std::to_string(ep)});
  const scenarios::Scenario s = scenarios::load_scenario_file(a.path, overrides);
  const DispatchBench b = bench_dispatch(s);
  const auto& m = s.model;
  std::printf("# moesim bench collective: DeepEP-style %s simulated on %s: EP %d over %d node%s of %s, %s network model (analytic time)\n",
              dispatch ? "dispatch" : "combine", s.name.c_str(), b.ep, b.nodes, b.nodes == 1 ? "" : "s", s.cluster.preset.c_str(),
              s.cluster.network.model.c_str());
  std::printf("# one MoE layer, one micro-batch: %.0f tokens per rank, hidden %d, top-%d of %d experts", b.tokens, m.hidden, m.top_k,
              m.experts);
  if (m.topk_groups < m.expert_groups) std::printf(" (%d groups, top %d)", m.expert_groups, m.topk_groups);
  std::printf(", %.4g bytes per element, dispatch.kernel %s (dedup %s)\n", dispatch ? b.dispatch_bytes : b.combine_bytes,
              s.dispatch.kernel.c_str(), scenarios::to_string(s.dispatch.dedup));
  std::printf("# a token reaches %.2f GPUs on %.2f nodes; the first GPU receives %.0f tokens\n", b.gpus_per_token, b.nodes_per_token,
              b.received);
  const DispatcherEntry& kernel = *find_dispatcher(s.dispatch.kernel);
  if (kernel.sm_capped) {
    // Which of DeepEP's kernels runs, and the bounds it adds to the network's.
    std::printf("# DeepEP's %s kernel: ", b.intranode ? "intranode" : "internode");
    if (s.dispatch.comm_sms > 0)
      std::printf("%d SMs at %.2f GB/s each", s.dispatch.comm_sms, comm_sm_rate(s.cluster.gpu, b.intranode).bytes_per_second() / 1e9);
    else
      std::printf("no SM cap (dispatch.comm_sms 0)");
    if (b.intranode && kernel.nvlink_share > 0) std::printf(", NVLink at %.3g of its effective rate", kernel.nvlink_share);
    std::printf("\n");
  }
  std::printf(
      "# NVL = received tokens x hidden x bytes / time; RDMA = tokens x %s x hidden x bytes / time (DeepEP's); time without\n"
      "# the count exchange (DeepEP's notify), shown apart\n",
      b.copy_per_expert ? "top-k" : "nodes per token");
  std::printf("#%8s %10s %12s %12s %12s\n", "op", "time (us)", "NVL (GB/s)", "RDMA (GB/s)", "counts (us)");
  std::printf("%9s %10.1f %12.1f %12.1f %12.1f\n", dispatch ? "dispatch" : "combine", (dispatch ? b.dispatch : b.combine).seconds() * 1e6,
              dispatch ? b.nvl_dispatch : b.nvl_combine, dispatch ? b.rdma_dispatch : b.rdma_combine,
              dispatch ? b.count_exchange.seconds() * 1e6 : 0.0);
  return 0;
}

}  // namespace

std::vector<int64_t> parse_sizes(const std::string& text) {
  const size_t a = text.find(':'), b = a == std::string::npos ? a : text.find(':', a + 1);
  if (b == std::string::npos || text.find(':', b + 1) != std::string::npos)
    throw OptionError("--sizes " + text + ": expected MIN:MAX:FACTOR, as nccl-tests' -b MIN -e MAX -f FACTOR (for example 8:8G:2)");
  const int64_t min = parse_size(text.substr(0, a), text), max = parse_size(text.substr(a + 1, b - a - 1), text);
  if (max < min) throw OptionError("--sizes " + text + ": expected MAX at least MIN");
  double factor = 0;
  size_t used = 0;
  const std::string f = text.substr(b + 1);
  try {
    factor = std::stod(f, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != f.size() || !(factor > 1) || !std::isfinite(factor))
    throw OptionError("--sizes " + text + ": expected a FACTOR above 1, got '" + f + "'");
  const auto sizes = network::collective_sizes(min, max, factor);
  if (sizes.size() > kMaxSizes)
    throw OptionError("--sizes " + text + ": expected at most " + std::to_string(kMaxSizes) + " sizes, got " +
                      std::to_string(sizes.size()));
  return sizes;
}

int cmd_bench(const std::vector<std::string>& args) {
  if (args.empty() || (args.front() != "collective" && args.front() != "--help" && args.front() != "-h"))
    throw UsageError("moesim bench: expected `moesim bench collective SCENARIO --op OP`");
  std::string ops;
  for (const auto& info : network::collective_ops()) ops += (ops.empty() ? "" : " | ") + std::string(info.name);
  ops += " | dispatch | combine";
  po::options_description o("moesim bench collective options");
  o.add_options()("help,h", "show this help")("op", po::value<std::string>()->value_name("OP"), ("the collective: " + ops).c_str())(
      "sizes", po::value<std::string>()->default_value("8:8G:2")->value_name("MIN:MAX:FACTOR"),
      "buffer sizes per rank, as nccl-tests' -b -e -f (K, M, G: powers of 1024)")(
      "gpus", po::value<int>()->value_name("N"), "run on the cluster's first N GPUs (default: all of them)")(
      "ep", po::value<int>()->value_name("N"), "dispatch and combine: the EP size (default: the scenario's parallelism.ep)");
  o.add(scenario_options());
  bool help = false;
  const std::vector<std::string> rest(args.begin() + (args.front() == "collective" ? 1 : 0), args.end());
  const auto vm = parse(
      rest, o,
      "usage: moesim bench collective CLUSTER_OR_SCENARIO --op OP [--sizes MIN:MAX:FACTOR] [--gpus N] [--ep N] [--set key.path=value]...",
      help);
  if (help) return 0;
  const ScenarioArgs a = scenario_args(vm, "bench collective");
  if (!vm.count("op")) throw OptionError("bench collective: --op is required (" + ops + ")");
  const std::string op = vm["op"].as<std::string>();
  if (op == "dispatch" || op == "combine") {
    for (const char* option : {"sizes", "gpus"})
      if (!vm[option].defaulted() && vm.count(option))
        throw OptionError(std::string("--") + option + ": not with --op " + op + " (the scenario's EP group and micro-batch set them)");
    const int ep = vm.count("ep") ? vm["ep"].as<int>() : 0;
    if (vm.count("ep") && ep < 1) throw OptionError("--ep: expected 1 or more, got " + std::to_string(ep));
    return bench_dispatch_command(a, op == "dispatch", ep);
  }
  if (vm.count("ep")) throw OptionError("--ep: only with --op dispatch or combine (a collective runs on --gpus N)");
  const auto* info = network::find_collective_op(op);
  if (!info) throw OptionError("--op: expected " + ops + ", got '" + vm["op"].as<std::string>() + "'");
  const auto sizes = parse_sizes(vm["sizes"].as<std::string>());
  const scenarios::ClusterFile s = scenarios::load_cluster_file(a.path, a.overrides);
  const int all = s.cluster.gpu_count();
  const int n = vm.count("gpus") ? vm["gpus"].as<int>() : all;
  if (n < 2 || n > all) throw OptionError("--gpus: expected 2 to the cluster's " + std::to_string(all) + " GPUs, got " + std::to_string(n));
  std::vector<int> gpus(n);
  std::iota(gpus.begin(), gpus.end(), 0);
  // The network model's state, and an all-to-all's traffic matrix.
  const std::vector<MemoryPart> memory = {
      {network::find_network_model(s.cluster.network.model)->memory(s.cluster, n), s.cluster.network.model + " network model",
       "cluster.nodes"},
      {8.0 * n * n, "an all-to-all's traffic matrix, " + std::to_string(n) + " x " + std::to_string(n) + " GPUs", "--gpus"}};
  require_memory(memory, 1, physical_memory_limit(), "the benchmark");

  const auto network = network::make_network_model(s.cluster);
  const auto samples = network::bench_collective(*network, info->op, gpus, sizes);
  std::printf("# moesim bench collective: %s simulated on %s: %d x %s, GPUs 0-%d, %s network model, %s all-to-all%s\n",
              std::string(info->tool).c_str(), s.name.c_str(), s.cluster.nodes, s.cluster.preset.c_str(), n - 1,
              s.cluster.network.model.c_str(), hardware::to_string(s.cluster.network.all_to_all),
              s.cluster.intra_node.nvls ? ", NVLink SHARP all-reduce where it beats the ring" : "");
  std::printf("# each size: one collective alone on the network; nccl-tests' out-of-place columns (in-place is the same here)\n");
  std::printf("# busBw = algBw x %s\n#\n", info->op == network::CollectiveOp::kAllReduce ? "2(n-1)/n" : "(n-1)/n");
  std::printf("#       size         count      type   redop    root     time   algbw   busbw\n");
  std::printf("#        (B)    (elements)                               (us)  (GB/s)  (GB/s)\n");
  double sum = 0;
  for (const auto& r : samples) {
    std::printf("%12lld  %12lld  %8s  %6s  %6d  %s  %6.2f  %6.2f\n", static_cast<long long>(r.bytes), static_cast<long long>(r.count),
                "float", std::string(info->redop).c_str(), -1, format_time(r.time.seconds() * 1e6).c_str(), r.algbw, r.busbw);
    sum += r.busbw;
  }
  if (samples.size() < sizes.size())
    std::printf("# left out: %zu size%s below %d bytes (one float per rank)\n", sizes.size() - samples.size(),
                sizes.size() - samples.size() == 1 ? "" : "s", network::kElementBytes * (info->count_per_rank ? n : 1));
  std::printf("# Avg bus bandwidth    : %g\n", samples.empty() ? 0.0 : sum / static_cast<double>(samples.size()));
  return 0;
}

}  // namespace moesim::cli
