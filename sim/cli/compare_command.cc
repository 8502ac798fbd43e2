#include "sim/cli/compare_command.h"

#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>
#include <mutex>

#include "results/compare_csv.h"
#include "results/table.h"
#include "scenarios/loader/loader.h"
#include "scenarios/loader/sweep_loader.h"
#include "sim/base/parallel.h"
#include "sim/cli/command_line.h"
#include "sim/cli/progress.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/usage_error.h"
#include "sim/compare.h"
#include "sim/files/output_file.h"
#include "sim/runner.h"
#include "sim/summary.h"

namespace po = boost::program_options;

namespace moesim::cli {
namespace {

constexpr const char* kUsage =
    "usage: moesim compare BASE.yaml [VARIANT.yaml] [--set key.path=value]... [--seeds N] [--steps N] [--jobs N] [--csv FILE]\n"
    "       moesim compare WHATIF.yaml [--seeds N] [--steps N] [--jobs N] [--csv FILE]";

std::string title(const scenarios::Scenario& s) {
  return s.name + " (" + std::to_string(s.cluster.nodes) + " x " + s.cluster.preset + ", " + std::to_string(s.cluster.gpu_count()) +
         " GPUs, " + s.model.name() + " with " + std::to_string(s.model.experts) + " experts)";
}

// A what-if file: a sweep file of exactly two points, the base and the variant.
std::pair<scenarios::Scenario, scenarios::Scenario> what_if(const std::string& path, const std::vector<std::string>& overrides) {
  const scenarios::Sweep sweep = scenarios::load_sweep_file(path, std::nullopt, overrides);
  if (sweep.points.size() != 2) {
    throw scenarios::ScenarioError(
        path, "grid",
        "a what-if file varies its base in two points (e.g. one axis of two values); this one has " + std::to_string(sweep.points.size()));
  }
  return {sweep.points[0].scenario, sweep.points[1].scenario};
}

std::vector<PolicySummary> simulate(const scenarios::Scenario& s) {
  const auto source = make_gating_source(s);
  return summarize(s, run_scenario(s, *source));
}

// The runs of both sides, seed by seed: [0, seeds) the base's, [seeds, 2 seeds) the variant's.
std::vector<scenarios::Scenario> seeded_runs(const scenarios::Scenario& base, const scenarios::Scenario& variant, int seeds) {
  std::vector<scenarios::Scenario> runs;
  for (const auto* side : {&base, &variant}) {
    for (int k = 0; k < seeds; ++k) {
      runs.push_back(*side);
      runs.back().seed = base.seed + static_cast<uint64_t>(k);
    }
  }
  return runs;
}

// What is compared with what, before anything runs.
// `sets` are the --set overrides, applied to the variant only: the values they changed say so.
void print_heading(const scenarios::Scenario& base, const scenarios::Scenario& variant, int seeds, const std::vector<std::string>& sets) {
  std::cout << "moesim compare, " << seeds << (seeds == 1 ? " seed" : " seeds") << " from " << base.seed << " on each side\n"
            << "  base     " << title(base) << "\n  variant  " << title(variant) << "\n";
  const auto changed = scenarios::differences(base, variant);
  std::cout << "  differs in "
            << (changed.empty() ? "nothing but its name" : std::to_string(changed.size()) + (changed.size() == 1 ? " value:" : " values:"))
            << "\n";
  for (const auto& line : changed) {
    const bool set = std::any_of(sets.begin(), sets.end(), [&](const std::string& o) {
      const std::string key = o.substr(0, o.find('='));
      return line.rfind(key, 0) == 0 && (line.size() == key.size() || line[key.size()] == ':' || line[key.size()] == '.');
    });
    std::cout << "    " << line << (set ? "   (--set, on the variant only)" : "") << "\n";
  }
  if (gating_shape(base) != gating_shape(variant)) {
    std::cout << "  the variant routes a different shape (ranks, experts, layers, top-k or tokens per rank), so its gating is\n"
                 "  drawn afresh from the same seeds: compare the totals, not the runs step by step\n";
  }
  std::cout << "\n" << std::flush;
}

// Every run's summary, `jobs` at a time.
std::vector<std::vector<PolicySummary>> simulate_all(const std::vector<scenarios::Scenario>& runs, int jobs, bool quiet) {
  std::vector<std::vector<PolicySummary>> summaries(runs.size());
  Progress progress(!quiet, "runs");
  std::mutex lock;
  int done = 0;
  parallel_for(runs.size(), jobs, [&](size_t i) {
    summaries[i] = simulate(runs[i]);
    const std::lock_guard<std::mutex> guard(lock);
    progress(++done, static_cast<int>(runs.size()));
  });
  return summaries;
}

void print_comparison(const std::vector<PolicyComparison>& comparison, const std::vector<std::string>& unmatched) {
  std::cout << results::compare_table(comparison);
  if (!unmatched.empty()) {
    std::cout << "not compared (no policy of that label on the other side):";
    for (const auto& u : unmatched) std::cout << " " << u;
    std::cout << "\n";
  }
  std::cout << "delta = variant - base; a difference is beyond seed noise when it exceeds twice the standard error of\n"
               "the difference of the means over the seeds (about 95 % confidence)\n";
}

}  // namespace

int cmd_compare(const std::vector<std::string>& args) {
  po::options_description o("moesim compare options");
  o.add_options()("help,h", "show this help")(
      "set", po::value<std::vector<std::string>>()->composing()->value_name("KEY.PATH=VALUE"),
      "the variant: BASE with this override (repeatable; applied to VARIANT.yaml when one is given; never to BASE)")(
      "seeds", po::value<int>()->default_value(3)->value_name("N"),
      "run each side with N seeds (the scenario's seed and the N-1 after it) to tell differences from noise")(
      "steps", po::value<int>()->value_name("N"), "simulate N steps on both sides (same as --set steps=N on both)")(
      "jobs,j", po::value<int>()->value_name("N"), "runs at once (default: the cores it may run on)")(
      "csv", po::value<std::string>()->value_name("FILE"), "also write the comparison, one row per policy and metric, to FILE")(
      "quiet,q", "no progress bar");
  o.add(memory_options());
  po::options_description all = o;
  all.add_options()("files", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("files", 2);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << kUsage << "\n\n"
              << "Runs BASE and a variant of it on the same seeds (so the same gating wherever the variant keeps its\n"
                 "shape) and prints, per placement policy, each metric side by side with its difference and whether\n"
                 "that difference is larger than the run-to-run variation across seeds. A what-if file is a sweep file\n"
                 "(scenarios/whatif/) of two points: the first is the base, the second the variant.\n\n"
              << o;
    return 0;
  }
  const auto files = vm.count("files") ? vm["files"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (files.empty()) throw UsageError("`moesim compare` needs a base scenario (see --help)");
  const bool question = files.size() == 1 && sets.empty() && scenarios::is_sweep_file(files[0]);
  if (files.size() == 1 && sets.empty() && !question) {
    throw UsageError("`moesim compare` needs a variant: VARIANT.yaml, --set key.path=value, or a what-if file");
  }
  const int seeds = vm["seeds"].as<int>();
  if (seeds < 1 || seeds > 1000) throw OptionError("--seeds " + std::to_string(seeds) + ": expected 1 to 1000");
  const int jobs = cores_option(vm, "jobs");

  // A --csv that cannot be written fails before anything runs.
  if (vm.count("csv")) require_output_file("--csv", vm["csv"].as<std::string>(), files::Target::kStream, files);

  std::vector<std::string> common;
  if (vm.count("steps")) common.push_back("steps=" + std::to_string(vm["steps"].as<int>()));
  std::vector<std::string> variant_overrides = common;
  variant_overrides.insert(variant_overrides.end(), sets.begin(), sets.end());
  const auto [base, variant] = question
                                   ? what_if(files[0], common)
                                   : std::pair{scenarios::load_scenario_file(files[0], common),
                                               scenarios::load_scenario_file(files.size() > 1 ? files[1] : files[0], variant_overrides)};

  const auto base_memory = estimate_run_memory(base), variant_memory = estimate_run_memory(variant);
  const bool base_larger = total_bytes(base_memory) >= total_bytes(variant_memory);
  require_memory(base_larger ? base_memory : variant_memory, std::min(jobs, 2 * seeds), memory_limit(vm),
                 base_larger ? "the base" : "the variant");

  const std::vector<scenarios::Scenario> runs = seeded_runs(base, variant, seeds);
  print_heading(base, variant, seeds, question ? std::vector<std::string>{} : sets);
  const auto summaries = simulate_all(runs, jobs, vm.count("quiet") > 0);
  const std::vector<std::vector<PolicySummary>> base_runs(summaries.begin(), summaries.begin() + seeds);
  const std::vector<std::vector<PolicySummary>> variant_runs(summaries.begin() + seeds, summaries.end());
  std::vector<std::string> unmatched;
  const auto comparison = compare_runs(base_runs, variant_runs, &unmatched);
  if (vm.count("csv")) {
    try {
      files::write_file_atomically(vm["csv"].as<std::string>(), results::compare_csv(comparison), files::Target::kStream);
    } catch (const files::FileError& e) {
      throw OptionError(std::string("--csv: ") + e.what());
    }
  }
  print_comparison(comparison, unmatched);
  if (vm.count("csv")) std::cout << "wrote " << vm["csv"].as<std::string>() << "\n";
  return 0;
}

}  // namespace moesim::cli
