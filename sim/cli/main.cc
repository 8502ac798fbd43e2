// The moesim command line: `moesim run | sweep | compare | validate | presets | topo | trace | predict | place | bench | calibrate`. Only
// this folder knows Boost.Program_options; bad input of any kind ends with one line on stderr and exit status 2.
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include "hardware/fabric.h"
#include "hardware/presets.h"
#include "models/presets.h"
#include "results/run_outputs.h"
#include "results/table.h"
#include "scenarios/loader/loader.h"
#include "sim/cli/bench_command.h"
#include "sim/cli/calibrate_command.h"
#include "sim/cli/command_line.h"
#include "sim/cli/compare_command.h"
#include "sim/cli/error_report.h"
#include "sim/cli/layout_report.h"
#include "sim/cli/place_command.h"
#include "sim/cli/predict_command.h"
#include "sim/cli/progress.h"
#include "sim/cli/registry_listing.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/sweep_command.h"
#include "sim/cli/topo_command.h"
#include "sim/cli/trace_commands.h"
#include "sim/cli/usage_error.h"
#include "sim/files/cleanup.h"
#include "sim/files/output_file.h"
#include "sim/resources.h"
#include "sim/runner.h"
#include "sim/summary.h"

namespace po = boost::program_options;
using namespace moesim;

namespace {

using cli::parse;
using cli::Progress;
using cli::scenario_args;
using cli::scenario_options;
using cli::ScenarioArgs;
using cli::UsageError;

const char* kUsage =
    "moesim: a discrete-event simulator of Mixture-of-Experts training clusters\n"
    "\n"
    "usage: moesim <command> [options]\n"
    "\n"
    "commands:\n"
    "  run SCENARIO        simulate a scenario and compare its placement policies\n"
    "  sweep SWEEP         run a grid of scenario variations on all cores (or MPI ranks), resumable\n"
    "  compare BASE [VAR]  what-if: BASE against a variant (a file or --set), with deltas beyond seed noise\n"
    "  validate SCENARIO   check a scenario without running it\n"
    "  presets             list the presets, and every source, routing mode, policy and predictor with its keys\n"
    "  topo SCENARIO       summarize a scenario's cluster topology (and write it as Graphviz DOT)\n"
    "  trace ...           record (generate), inspect (info) and convert routing traces\n"
    "  predict TRACE       score the expert-load predictors on a trace\n"
    "  place LOADS         plan replicated experts from a load table or trace, as DeepSeek's EPLB does\n"
    "  bench collective F  nccl-tests' collective benchmarks on the cluster of F, in their layout\n"
    "  calibrate F         fit the cluster of F to nccl-tests logs (--nccl-tests LOG...)\n"
    "\n"
    "Run `moesim <command> --help` for the options of a command.\n";

std::string describe(const scenarios::Scenario& s) {
  const auto& c = s.cluster;
  const auto& m = s.model;
  char buf[512];
  const auto& p = s.parallelism;
  std::string degrees;
  for (const auto& [name, degree] : {std::pair{"TP", p.tp}, {"PP", p.pp}, {"CP", p.cp}}) {
    if (degree > 1) degrees += std::string(name) + " " + std::to_string(degree) + " x ";
  }
  const std::string mtp = m.mtp_layers > 0 ? " and " + std::to_string(m.mtp_layers) + " MTP" : "";
  std::snprintf(buf, sizeof buf, "%s: %d x %s (%d GPUs), %s (%d layers%s, %d MoE x %d experts, top-%d), %sEP %d x DP %d, %d step%s, %s",
                s.name.c_str(), c.nodes, c.preset.c_str(), c.gpu_count(), m.name().c_str(), m.layers, mtp.c_str(), m.moe_layer_count(),
                m.experts, m.top_k, degrees.c_str(), p.ep, p.dp, s.steps, s.steps == 1 ? "" : "s",
                scenarios::to_string(s.training.expert_execution));
  return buf;
}

// A step or FIRST:LAST, within the run's steps.
TimelineSteps timeline_steps(const std::string& text, int steps) {
  const auto bad = [&](const std::string& why) {
    return cli::OptionError("--timeline-steps " + text + ": " + why + " (expected a step or FIRST:LAST, counted from 0)");
  };
  const auto step = [&](const std::string& part) {
    size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size()) throw bad("'" + part + "' is not a step number");
    if (v < 0 || v >= steps) throw bad("step " + part + " is outside the run's steps 0.." + std::to_string(steps - 1));
    return v;
  };
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    const int v = step(text);
    return {v, v};
  }
  const TimelineSteps range{step(text.substr(0, colon)), step(text.substr(colon + 1))};
  if (range.first > range.last) throw bad("the first step comes after the last");
  return range;
}

int cmd_run(const std::vector<std::string>& args) {
  po::options_description o("moesim run options");
  o.add_options()("help,h", "show this help")("steps", po::value<int>()->value_name("N"), "simulate N steps (same as --set steps=N)")(
      "out", po::value<std::string>()->value_name("DIR"), "output directory (same as --set output.dir=DIR)")("quiet,q", "no progress bar")(
      "timeline", "also write timeline.json (Chrome trace events, for Perfetto) with every task of the last step")(
      "timeline-steps", po::value<std::string>()->value_name("STEPS"),
      "the steps of the timeline instead: a step or FIRST:LAST, counted from 0 (implies --timeline)")(
      "threads", po::value<int>()->value_name("N"),
      "route the next step while a step is simulated, and sample skewed gating, on up to N threads (default: the cores it may run on; the "
      "results are the same for any N)");
  o.add(scenario_options()).add(cli::memory_options());
  bool help = false;
  const auto vm =
      parse(args, o,
            "usage: moesim run SCENARIO [--set key.path=value]... [--steps N] [--out DIR] [--timeline] [--timeline-steps STEPS] "
            "[--threads N]",
            help);
  if (help) return 0;
  const int threads = cli::cores_option(vm, "threads");
  ScenarioArgs a = scenario_args(vm, "run");
  if (vm.count("steps")) a.overrides.push_back("steps=" + std::to_string(vm["steps"].as<int>()));
  if (vm.count("out")) a.overrides.push_back("output.dir=" + vm["out"].as<std::string>());
  const scenarios::Scenario s = scenarios::load_scenario_file(a.path, a.overrides);

  require_memory(estimate_run_memory(s), 1, cli::memory_limit(vm), "the run");

  std::optional<TimelineSteps> timeline;
  if (vm.count("timeline-steps"))
    timeline = timeline_steps(vm["timeline-steps"].as<std::string>(), s.steps);
  else if (vm.count("timeline"))
    timeline = TimelineSteps{s.steps - 1, s.steps - 1};

  results::RunOutputs outputs(s, timeline ? timeline->last - timeline->first + 1 : 0, files::DirectoryLock::Wait::kNo,
                              cli::scenario_inputs(a.path, s));

  const auto source = make_gating_source(s, threads);
  std::cout << "moesim run " << describe(s) << "\n"
            << "gating: " << source->describe() << "\n\n";
  Progress progress(!vm.count("quiet"), "steps");
  TimelineSink sink;
  if (auto* writer = outputs.timeline())
    sink = [writer](int policy, const std::vector<TimelineSpan>& spans) { writer->add(policy, spans); };
  const RunResult run = run_scenario(
      s, *source, [&](int64_t done, int64_t total) { progress(done, total); }, timeline, sink, threads);
  const auto summary = summarize(s, run);
  std::cout << results::summary_table(summary, cli::emphasis()) << "\n";

  const std::vector<std::string> written = outputs.commit(scenarios::resolved_yaml(s), summary, run);
  std::cout << "wrote";
  for (size_t i = 0; i < written.size(); ++i) std::cout << (i == 0 ? " " : i + 1 == written.size() ? " and " : ", ") << written[i];
  std::cout << "\n";
  return 0;
}

int cmd_validate(const std::vector<std::string>& args) {
  po::options_description o("moesim validate options");
  o.add_options()("help,h", "show this help")("print", "print the fully resolved scenario as YAML");
  o.add(scenario_options()).add(cli::memory_options());
  bool help = false;
  const auto vm = parse(args, o, "usage: moesim validate SCENARIO [--set key.path=value]... [--print]", help);
  if (help) return 0;
  const ScenarioArgs a = scenario_args(vm, "validate");
  const scenarios::Scenario s = scenarios::load_scenario_file(a.path, a.overrides);
  const auto memory = estimate_run_memory(s);
  require_memory(memory, 1, cli::memory_limit(vm), "the run");
  if (vm.count("print"))
    std::cout << scenarios::resolved_yaml(s) << cli::layout_report(s, "# ") << cli::memory_report(s, "# ");
  else
    std::cout << "ok: " << describe(s) << "\n    a run needs about " << format_bytes(total_bytes(memory)) << " of memory\n"
              << cli::layout_report(s, "    ") << cli::memory_report(s, "    ");
  return 0;
}

int cmd_presets(const std::vector<std::string>& args) {
  po::options_description o("moesim presets options");
  o.add_options()("help,h", "show this help")("markdown", "only the registry entries and their keys, as a Markdown table");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(o).run(), vm);
  if (vm.count("help")) {
    std::cout << "usage: moesim presets [--markdown]\n\n" << o;
    return 0;
  }
  if (vm.count("markdown")) {
    std::cout << cli::registry_listing(true);
    return 0;
  }
  std::cout << "cluster presets (cluster.preset; one node each, scale with cluster.nodes):\n";
  for (const auto& p : hardware::cluster_presets()) std::printf("  %-14s %s\n", p.name.c_str(), p.description.c_str());
  std::cout << "\nfabrics (cluster.fabric.kind; see `moesim topo SCENARIO`):\n";
  for (const auto* f : hardware::fabric_entries())
    std::printf("  %-14s %s\n", std::string(f->name).c_str(), std::string(f->summary).c_str());
  std::cout << "  intra-node fabrics (cluster.intra_node.fabric): nvswitch, pcie, hccs (groups of cluster.intra_node.group_size)\n";
  std::cout << "\nmodel presets (model.preset):\n";
  for (const auto& p : models::model_presets()) std::printf("  %-16s %s\n", p.name.c_str(), p.description.c_str());
  std::cout << "\nwhat a scenario picks by name, and the keys of each:\n" << cli::registry_listing(false);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // SIGINT/SIGTERM remove this process's temporaries and exit with 130/143.
  files::install_signal_cleanup();
  try {
    if (args.empty()) throw UsageError("missing command");
    const std::string command = args.front();
    args.erase(args.begin());
    if (command == "-h" || command == "--help" || command == "help") {
      std::cout << kUsage;
      return 0;
    }
    if (command == "run") return cmd_run(args);
    if (command == "validate") return cmd_validate(args);
    if (command == "presets") return cmd_presets(args);
    if (command == "topo") return cli::cmd_topo(args);
    if (command == "sweep") return cli::cmd_sweep(args);
    if (command == "compare") return cli::cmd_compare(args);
    if (command == "trace") return cli::cmd_trace(args);
    if (command == "predict") return cli::cmd_predict(args);
    if (command == "place") return cli::cmd_place(args);
    if (command == "bench") return cli::cmd_bench(args);
    if (command == "calibrate") return cli::cmd_calibrate(args);
    throw UsageError("unknown command '" + command + "'");
  } catch (const UsageError& e) {
    std::cerr << "moesim: error: " << e.what() << "\n\n" << kUsage;
    return cli::kBadInput;
  } catch (...) {
    const WorkerReport report = cli::error_report(std::current_exception());
    std::cerr << report.text;
    return report.status;
  }
}
