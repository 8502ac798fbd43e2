#include "sim/cli/trace_commands.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <stdexcept>

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
    "       moesim trace info FILE.h5 [--ep N]\n"
    "       moesim trace convert IN.csv OUT.h5\n"
    "       moesim trace import FORMAT INPUT... --out TRACE.h5 [--top-k K] [--tokens-per-step T] [--stride N]\n";

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

int info(const std::vector<std::string>& args) {
  po::options_description o("moesim trace info options");
  o.add_options()("help,h", "show this help")("ep", po::value<int>()->value_name("N"),
                                              "GPUs whose imbalance to show (default: the trace's ranks, where they divide its experts)");
  const po::variables_map vm = parse_with_file(args, o, "trace");
  if (vm.count("help")) {
    std::cout << kTraceUsage << "\n" << o;
    return 0;
  }
  if (!vm.count("trace")) throw UsageError("`moesim trace info` takes one trace file");
  const int ep = vm.count("ep") ? vm["ep"].as<int>() : 0;
  if (vm.count("ep") && (ep < 1 || ep > 65536)) throw OptionError("--ep must be from 1 to 65536, got " + std::to_string(ep));
  print_trace(vm["trace"].as<std::string>(), ep);
  return 0;
}

}  // namespace

int cmd_trace(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kTraceUsage;
    if (args.empty()) throw UsageError("`moesim trace` needs generate, info, convert or import");
    return 0;
  }
  const std::string verb = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  const bool help = std::find(rest.begin(), rest.end(), "--help") != rest.end();
  if (verb == "generate") return generate(rest);
  if (verb == "import") return trace_import(rest);
  if (verb == "info") return info(rest);
  if (verb == "convert") {
    if (help) return std::cout << kTraceUsage, 0;
    if (rest.size() != 2) throw UsageError("`moesim trace convert` takes IN.csv and OUT.h5");
    require_output_file("trace convert OUT.h5", rest[1], files::Target::kFile, {rest[0]});
    gating::convert_csv_trace(rest[0], rest[1]);
    std::printf("converted %s to %s\n\n", rest[0].c_str(), rest[1].c_str());
    print_trace(rest[1]);
    return 0;
  }
  throw UsageError("unknown trace command '" + verb + "' (generate, info, convert or import)");
}

}  // namespace moesim::cli
