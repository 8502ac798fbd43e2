#include "sim/cli/place_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>

#include "models/gating/expert_load_table.h"
#include "policies/placement/eplb.h"
#include "results/eplb_outputs.h"
#include "sim/cli/command_line.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/usage_error.h"
#include "sim/files/output_file.h"

namespace moesim::cli {
namespace {

namespace po = boost::program_options;

const char* kUsage =
    "usage: moesim place LOADS --gpus G --slots S [--nodes N] [--groups K] [--mode hierarchical|global]\n"
    "                    [--steps FIRST:LAST] [--out DIR]\n"
    "\n"
    "Plans replicated experts as DeepSeek's EPLB does (github.com/deepseek-ai/EPLB): G GPUs with S\n"
    "expert slots each (G x S physical experts, at least one per expert). Hierarchical mode packs\n"
    "the K expert groups onto the N nodes, replicates inside each node and packs each node's\n"
    "replicas onto its GPUs; global mode replicates and packs over all GPUs. By default the mode is\n"
    "EPLB's choice: hierarchical where N divides K.\n"
    "\n"
    "LOADS is a CSV with the header layer,expert,load (a row per expert of each MoE layer), or a\n"
    "trace (.h5) whose expert counts over --steps are summed.\n"
    "\n"
    "Prints each layer's busiest GPU over the mean, and each GPU's load. --out DIR writes EPLB's\n"
    "outputs: phy2log.csv, log2phy.csv, logcnt.csv, gpu_loads.csv and eplb.json.\n";

po::options_description place_options() {
  po::options_description o("moesim place options");
  o.add_options()("help,h", "show this help")("gpus", po::value<int>(), "GPUs (EPLB's num_gpus)")(
      "slots", po::value<int>(), "expert slots per GPU: GPUs x slots physical experts (num_replicas)")(
      "nodes", po::value<int>()->default_value(1), "nodes (num_nodes); GPUs must be a multiple")(
      "groups", po::value<int>()->default_value(1), "expert groups (num_groups), dividing the experts")(
      "mode", po::value<std::string>(), "hierarchical or global (default: hierarchical where the nodes divide the groups)")(
      "steps", po::value<std::string>(), "FIRST:LAST, the training steps whose records to sum (FIRST included, LAST not; default all)")(
      "out", po::value<std::string>(), "a directory for the plan's files (created if missing)");
  return o;
}

int positive(const po::variables_map& vm, const char* key) {
  if (!vm.count(key)) throw OptionError(std::string("--") + key + " is required");
  const int v = vm[key].as<int>();
  if (v < 1) throw OptionError(std::string("--") + key + ": expected a positive count, got " + std::to_string(v));
  return v;
}

bool is_trace(const std::string& path) { return path.size() >= 3 && path.compare(path.size() - 3, 3, ".h5") == 0; }

gating::ExpertLoadTable read_loads(const std::string& path, const po::variables_map& vm) {
  if (!is_trace(path)) {
    if (vm.count("steps")) throw OptionError("--steps: only for a trace (.h5); " + path + " is read as a CSV of layer,expert,load");
    return gating::read_expert_load_csv(path);
  }
  int first = 0, last = -1;
  if (vm.count("steps")) {
    const std::string range = vm["steps"].as<std::string>();
    size_t used = 0;
    const auto colon = range.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument("no colon");
      first = std::stoi(range.substr(0, colon), &used);
      if (used != colon) throw std::invalid_argument("first");
      last = std::stoi(range.substr(colon + 1), &used);
      if (used != range.size() - colon - 1) throw std::invalid_argument("last");
    } catch (const std::logic_error&) {
      throw OptionError("--steps: expected FIRST:LAST (two step numbers), got '" + range + "'");
    }
  }
  return gating::trace_expert_loads(path, first, last);
}

double max_over_mean(const std::vector<double>& v) {
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  return mean > 0 ? *std::max_element(v.begin(), v.end()) / mean : 1.0;
}

// The EPLB shape and mode the options give.
struct PlaceRequest {
  policies::EplbShape shape;
  int slots = 1;
  policies::EplbMode mode = policies::EplbMode::kHierarchical;
};

PlaceRequest place_request(const po::variables_map& vm) {
  PlaceRequest r;
  r.shape.gpus = positive(vm, "gpus");
  r.slots = positive(vm, "slots");
  r.shape.nodes = positive(vm, "nodes");
  r.shape.groups = positive(vm, "groups");
  if (static_cast<int64_t>(r.shape.gpus) * r.slots > 1 << 24) throw OptionError("--slots: more than 2^24 physical experts");
  r.shape.physical = r.shape.gpus * r.slots;
  r.mode = policies::eplb_default_mode(r.shape);
  if (vm.count("mode")) {
    const std::string name = vm["mode"].as<std::string>();
    const auto* found = std::find(std::begin(policies::kEplbModeNames), std::end(policies::kEplbModeNames), name);
    if (found == std::end(policies::kEplbModeNames)) throw OptionError("--mode: expected hierarchical or global, got '" + name + "'");
    r.mode = static_cast<policies::EplbMode>(found - std::begin(policies::kEplbModeNames));
  }
  return r;
}

// "1 node", "2 nodes".
std::string count(int n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

// A GPU's load: whole tokens as an integer however large, a replica's share of one to a tenth
// ("121.5", "1310610"), never in exponent notation.
std::string load_text(double load) {
  char b[64];
  std::snprintf(b, sizeof b, "%.1f", load);
  std::string text = b;
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0) text.resize(text.size() - 2);
  return text;
}

void print_plan(const gating::ExpertLoadTable& table, const PlaceRequest& r, const policies::EplbPlan& plan,
                const std::vector<std::vector<double>>& gpu_loads) {
  const auto& shape = r.shape;
  std::printf(
      "moesim place %s: %d MoE layers x %d experts on %d GPUs (%s) x %d slots = %d physical experts (%d replicas beyond one each)\n",
      table.source.c_str(), table.layers, table.experts, shape.gpus, count(shape.nodes, "node").c_str(), r.slots, shape.physical,
      shape.physical - table.experts);
  if (r.mode == policies::EplbMode::kHierarchical)
    std::printf("EPLB hierarchical: %s packed onto %s, replicas inside each node, then onto its GPUs\n",
                count(shape.groups, "expert group").c_str(), count(shape.nodes, "node").c_str());
  else
    std::printf("EPLB global: replicas anywhere, packed onto the GPUs (expert groups and nodes not used)\n");
  const bool contiguous = table.experts % shape.gpus == 0;
  std::printf("\n  %5s  %12s  %22s  %s\n", "layer", "max/mean", "without replicas", "experts with replicas (count)");
  for (int l = 0; l < table.layers; ++l) {
    std::string baseline = "-";
    if (contiguous) {
      // Experts in order, experts / GPUs each: what the plan improves on.
      std::vector<double> plain(shape.gpus, 0.0);
      for (int e = 0; e < table.experts; ++e) plain[e / (table.experts / shape.gpus)] += table.loads[l][e];
      char b[32];
      std::snprintf(b, sizeof b, "%.3f", max_over_mean(plain));
      baseline = b;
    }
    std::string replicated;
    for (int e = 0; e < table.experts; ++e) {
      const int count = plan.logcnt[static_cast<size_t>(l) * table.experts + e];
      if (count > 1) replicated += (replicated.empty() ? "" : ", ") + std::to_string(e) + " (" + std::to_string(count) + ")";
    }
    std::printf("  %5d  %12.3f  %22s  %s\n", l, max_over_mean(gpu_loads[l]), baseline.c_str(),
                replicated.empty() ? "none" : replicated.c_str());
  }
  std::printf("\nload per GPU (each replica takes its expert's load over its count):\n");
  const int digits = static_cast<int>(std::to_string(std::max(table.layers - 1, 0)).size());
  for (int l = 0; l < table.layers; ++l) {
    std::printf("  layer %*d:", digits, l);
    for (double v : gpu_loads[l]) std::printf(" %s", load_text(v).c_str());
    std::printf("\n");
  }
}

// Every file written whole to a temporary first, then all renamed: none or all of them.
void write_plan(const std::string& out_dir, const std::vector<std::pair<std::string, std::string>>& files_out) {
  std::vector<std::unique_ptr<files::Temporary>> written;
  for (const auto& [name, contents] : files_out) {
    written.push_back(std::make_unique<files::Temporary>((std::filesystem::path(out_dir) / name).string()));
    written.back()->write(contents);
  }
  for (auto& t : written) t->commit();
  std::printf("\nwrote");
  for (const auto& [name, contents] : files_out) std::printf(" %s", (std::filesystem::path(out_dir) / name).c_str());
  std::printf("\n");
}

}  // namespace

int cmd_place(const std::vector<std::string>& args) {
  const po::options_description o = place_options();
  const po::variables_map vm = parse_with_file(args, o, "loads");
  if (vm.count("help")) {
    std::cout << kUsage << "\n" << o;
    return 0;
  }
  if (!vm.count("loads")) throw UsageError("`moesim place` needs a load table (CSV) or a trace (.h5)");
  const std::string path = vm["loads"].as<std::string>();
  const PlaceRequest request = place_request(vm);
  // Every output is checked before the work that would fill it.
  const std::string out_dir = vm.count("out") ? vm["out"].as<std::string>() : "";
  if (!out_dir.empty() && std::filesystem::exists(std::filesystem::symlink_status(out_dir)) && !std::filesystem::is_directory(out_dir))
    throw OptionError("--out: " + out_dir + " exists and is not a directory");
  const gating::ExpertLoadTable table = read_loads(path, vm);
  if (const std::string problem = policies::eplb_shape_problem(table.experts, request.shape, request.mode); !problem.empty()) {
    throw OptionError(std::to_string(table.experts) + " experts on " + std::to_string(request.shape.gpus) + " GPUs x " +
                      std::to_string(request.slots) + " slots: " + problem);
  }
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) throw OptionError("--out: cannot create " + out_dir + ": " + ec.message());
    for (const char* name : {"phy2log.csv", "log2phy.csv", "logcnt.csv", "gpu_loads.csv", "eplb.json"})
      require_output_file("--out", (std::filesystem::path(out_dir) / name).string(), files::Target::kFile, {path});
  }
  const policies::EplbPlan plan = policies::rebalance_experts(table.loads, request.shape, request.mode);
  const auto gpu_loads = results::eplb_gpu_loads(plan, request.shape.gpus, table.loads);
  print_plan(table, request, plan, gpu_loads);
  if (!out_dir.empty()) write_plan(out_dir, results::eplb_output_files(plan, request.shape, request.mode, gpu_loads));
  return 0;
}

}  // namespace moesim::cli
