#include "sim/cli/trace_commands.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <stdexcept>

#include "models/gating/load_statistics.h"
#include "models/gating/trace_csv.h"
#include "models/gating/trace_h5.h"
#include "scenarios/loader/loader.h"
#include "sim/cli/command_line.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/usage_error.h"
#include "sim/runner.h"

namespace po = boost::program_options;

namespace moesim::cli {
namespace {

const char* kTraceUsage =
    "usage: moesim trace generate SCENARIO --out FILE.h5 [--set key.path=value]... [--steps N]\n"
    "       moesim trace info FILE.h5\n"
    "       moesim trace convert IN.csv OUT.h5\n";

// Proportions [layer][step][expert] from the per-expert totals of every step.
std::vector<std::vector<std::vector<double>>> proportions(const gating::TraceReader& reader) {
  const auto& info = reader.info();
  std::vector<std::vector<std::vector<double>>> out(info.moe_layers);
  for (int s = 0; s < info.steps; ++s) {
    const auto counts = reader.read_expert_counts(s);
    for (int l = 0; l < info.moe_layers; ++l) {
      const auto first = counts.begin() + static_cast<std::ptrdiff_t>(l) * info.experts;
      const double total = static_cast<double>(std::accumulate(first, first + info.experts, int64_t{0}));
      std::vector<double> row(info.experts, 0.0);
      for (int e = 0; e < info.experts; ++e) row[e] = total > 0 ? static_cast<double>(first[e]) / total : 0.0;
      out[l].push_back(std::move(row));
    }
  }
  return out;
}

// A row of block characters, one per bucket of steps, scaled between the series' min and max.
std::string sparkline(const std::vector<double>& series, int width) {
  static const char* kLevels[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const int n = static_cast<int>(series.size());
  width = std::min(width, n);
  std::vector<double> bucket(width, 0.0);
  for (int b = 0; b < width; ++b) {
    const int from = b * n / width, to = (b + 1) * n / width;
    for (int i = from; i < to; ++i) bucket[b] += series[i] / (to - from);
  }
  const auto [lo, hi] = std::minmax_element(bucket.begin(), bucket.end());
  std::string out;
  for (double v : bucket) {
    const int level = *hi > *lo ? static_cast<int>((v - *lo) / (*hi - *lo) * 7.999) : 0;
    out += kLevels[level];
  }
  return out;
}

void print_trace(const std::string& path) {
  const gating::TraceReader reader(path);
  const auto& info = reader.info();
  std::printf("trace %s\n", path.c_str());
  std::printf("  shape      %d steps x %d MoE layers x %d experts, %s\n", info.steps, info.moe_layers, info.experts,
              info.ranks > 0 ? ("per-rank counts for " + std::to_string(info.ranks) + " ranks").c_str() : "per-expert totals only");
  if (!info.model.empty() || info.top_k > 0) {
    std::printf("  recorded   model %s, top-%d, %lld tokens per step, seed %llu\n", info.model.c_str(), info.top_k,
                static_cast<long long>(info.tokens_per_step), static_cast<unsigned long long>(info.seed));
  }
  if (!info.generator.empty()) std::printf("  generator  %s\n", info.generator.c_str());

  const auto prop = proportions(reader);
  // Windows of 100 steps need at least 1,000 steps to fit in a tenth; shorter traces use
  // windows of a tenth, and below 50 steps the statistic says nothing.
  const int tenth = info.steps / 10;
  const int window = std::min(100, tenth);
  if (info.steps < 50) {
    std::printf("\n  (%d steps: too few for the phase statistics, which compare the first and last tenth)\n", info.steps);
  } else {
    std::printf("\n  variance of load proportion in windows of %d steps (the prediction paper's statistic):\n", window);
    std::printf("    MoE layer   first tenth    last tenth   first/last\n");
    for (int l = 0; l < info.moe_layers; ++l) {
      const double early = gating::windowed_variance(prop[l], 0, tenth, window);
      const double late = gating::windowed_variance(prop[l], info.steps - tenth, info.steps, window);
      if (late > 0)
        std::printf("    %9d   %11.3g   %11.3g   %9.1fx\n", l, early, late, early / late);
      else
        std::printf("    %9d   %11.3g   %11.3g         n/a\n", l, early, late);
    }
  }

  // The four experts of layer 0 with the largest mean share.
  const int show = std::min(4, info.experts);
  std::vector<double> mean(info.experts, 0.0);
  for (const auto& row : prop[0])
    for (int e = 0; e < info.experts; ++e) mean[e] += row[e] / info.steps;
  std::vector<int> order(info.experts);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + show, order.end(), [&](int a, int b) { return mean[a] > mean[b]; });
  std::printf("\n  load share over training, MoE layer 0, busiest experts (each line scaled to its own range):\n");
  for (int i = 0; i < show; ++i) {
    const int e = order[i];
    std::vector<double> series;
    for (const auto& row : prop[0]) series.push_back(row[e]);
    std::printf("    expert %3d  %s  %5.2f%% .. %5.2f%%\n", e, sparkline(series, 60).c_str(),
                100 * *std::min_element(series.begin(), series.end()), 100 * *std::max_element(series.begin(), series.end()));
  }
}

int generate(const std::vector<std::string>& args) {
  po::options_description o("moesim trace generate options");
  o.add_options()("help,h", "show this help")("out", po::value<std::string>()->value_name("FILE.h5"), "trace to write (required)")(
      "steps", po::value<int>()->value_name("N"), "record N steps (same as --set steps=N)")(
      "set", po::value<std::vector<std::string>>()->composing()->value_name("KEY.PATH=VALUE"), "override a scenario value");
  o.add(memory_options());
  const po::variables_map vm = parse_with_file(args, o, "scenario");
  if (vm.count("help")) {
    std::cout << kTraceUsage << "\n" << o;
    return 0;
  }
  if (!vm.count("scenario") || !vm.count("out")) throw UsageError("`moesim trace generate` needs a scenario and --out FILE.h5");
  std::vector<std::string> overrides;
  if (vm.count("set")) overrides = vm["set"].as<std::vector<std::string>>();
  if (vm.count("steps")) overrides.push_back("steps=" + std::to_string(vm["steps"].as<int>()));
  const scenarios::Scenario s = scenarios::load_scenario_file(vm["scenario"].as<std::string>(), overrides);
  const std::string out = vm["out"].as<std::string>();
  require_output_file("--out", out, files::Target::kFile, scenario_inputs(vm["scenario"].as<std::string>(), s));
  require_memory(estimate_run_memory(s), 1, memory_limit(vm), "recording the trace");

  auto source = make_gating_source(s);
  gating::TraceInfo info;
  info.steps = s.steps;
  info.moe_layers = s.model.moe_layer_count();
  info.experts = s.model.experts;
  info.ranks = s.parallelism.stage_gpus();  // the routing ranks: every GPU of a pipeline stage
  info.top_k = s.model.top_k;
  info.tokens_per_step = s.training.tokens_per_step;
  info.seed = s.seed;
  info.model = s.model.name();
  info.generator = source->describe();
  info.scenario = scenarios::resolved_yaml(s);
  gating::TraceWriter writer(out, info);
  gating::RoutingMatrix routing(info.moe_layers, info.ranks, info.experts);
  // Placement-aware routing is recorded under the scenario's first policy.
  auto policy = make_placement_policy(s, s.policies.front());
  const bool coactivation = policy->observations().coactivation;
  if (coactivation) routing.enable_coactivation();
  for (int step = 0; step < s.steps; ++step) {
    const auto& placement = policy->placement_for(step);
    source->route(step, source->placement_aware() ? routing_view(s, placement) : gating::RoutingView{}, routing);
    writer.write_step(routing);
    policy->observe({step, expert_loads(routing), coactivation ? routing.coactivation() : std::span<const double>()});
  }
  writer.finish();
  std::printf("recorded %d steps of %s\n", s.steps, info.generator.c_str());
  if (source->placement_aware()) std::printf("routed under the placement of policy `%s`\n", s.policies.front().label.c_str());
  std::printf("\n");
  print_trace(out);
  return 0;
}

}  // namespace

int cmd_trace(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kTraceUsage;
    if (args.empty()) throw UsageError("`moesim trace` needs generate, info or convert");
    return 0;
  }
  const std::string verb = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  const bool help = std::find(rest.begin(), rest.end(), "--help") != rest.end();
  if (verb == "generate") return generate(rest);
  if (verb == "info") {
    if (help) return std::cout << kTraceUsage, 0;
    if (rest.size() != 1) throw UsageError("`moesim trace info` takes one trace file");
    print_trace(rest[0]);
    return 0;
  }
  if (verb == "convert") {
    if (help) return std::cout << kTraceUsage, 0;
    if (rest.size() != 2) throw UsageError("`moesim trace convert` takes IN.csv and OUT.h5");
    require_output_file("trace convert OUT.h5", rest[1], files::Target::kFile, {rest[0]});
    gating::convert_csv_trace(rest[0], rest[1]);
    std::printf("converted %s to %s\n\n", rest[0].c_str(), rest[1].c_str());
    print_trace(rest[1]);
    return 0;
  }
  throw UsageError("unknown trace command '" + verb + "' (generate, info or convert)");
}

}  // namespace moesim::cli
