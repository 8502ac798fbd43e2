#include "sim/cli/sweep_command.h"

#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>
#include <mutex>

#include "results/run_outputs.h"
#include "results/sweep_points.h"
#include "results/table.h"
#include "scenarios/loader/sweep_loader.h"
#include "sim/cli/command_line.h"
#include "sim/cli/error_report.h"
#include "sim/cli/process_group.h"
#include "sim/cli/progress.h"
#include "sim/cli/scenario_args.h"
#include "sim/cli/usage_error.h"
#include "sim/files/output_file.h"
#include "sim/sweep.h"

namespace po = boost::program_options;

namespace moesim::cli {
namespace {

constexpr const char* kUsage =
    "usage: moesim sweep SWEEP.yaml [--jobs N] [--out DIR] [--shard I/N] [--set key.path=value]... [--list] [--quiet]";

struct Shard {
  int index = 0;  // 0-based
  int count = 1;
};

// I/N with 1 <= I <= N.
Shard parse_shard(const std::string& text) {
  const auto bad = [&] { return OptionError("--shard " + text + ": expected I/N with 1 <= I <= N, e.g. --shard 2/8"); };
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw bad();
  int i = 0, n = 0;
  try {
    size_t used_i = 0, used_n = 0;
    i = std::stoi(text.substr(0, slash), &used_i);
    n = std::stoi(text.substr(slash + 1), &used_n);
    if (used_i != slash || used_n != text.size() - slash - 1) throw bad();
  } catch (const std::logic_error&) {
    throw bad();
  }
  if (n < 1 || i < 1 || i > n) throw bad();
  return {i - 1, n};
}

std::string points(int n) { return std::to_string(n) + (n == 1 ? " point" : " points"); }

// "cluster.nodes (2), seed (3)": each grid axis and its values; the zip axes, which advance together,
// as one: "cluster.nodes and parallelism together (3)".
std::string axes_line(const scenarios::Sweep& sweep) {
  std::string out, zipped;
  size_t zip_values = 0;
  for (const auto& a : sweep.axes) {
    if (a.zipped) {
      zipped += (zipped.empty() ? "" : " and ") + a.key;
      zip_values = a.values.size();
    } else {
      out += (out.empty() ? "" : ", ") + a.key + " (" + std::to_string(a.values.size()) + ")";
    }
  }
  if (zipped.empty()) return out;
  const bool together = zipped.find(" and ") != std::string::npos;
  return out + (out.empty() ? "" : ", ") + zipped + (together ? " together (" : " (") + std::to_string(zip_values) + ")";
}

// Point summaries as one message for MPI: "INDEX BYTES\n" then the bytes, repeated.
std::string pack(const std::map<int, std::string>& summaries) {
  std::string out;
  for (const auto& [index, text] : summaries) out += std::to_string(index) + " " + std::to_string(text.size()) + "\n" + text;
  return out;
}

void unpack(const std::string& message, std::map<int, std::string>& into) {
  for (size_t at = 0; at < message.size();) {
    const size_t line_end = message.find('\n', at);
    const std::string head = message.substr(at, line_end - at);
    const size_t space = head.find(' ');
    const size_t bytes = std::stoul(head.substr(space + 1));
    into[std::stoi(head.substr(0, space))] = message.substr(line_end + 1, bytes);
    at = line_end + 1 + bytes;
  }
}

void list_points(const scenarios::Sweep& sweep) {
  std::vector<std::string> header = {"point"};
  for (const auto& a : sweep.axes) header.push_back(a.key);
  header.push_back("output");
  header.push_back("status");
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : sweep.points) {
    std::vector<std::string> row = {std::to_string(p.index)};
    row.insert(row.end(), p.values.begin(), p.values.end());
    row.push_back(p.scenario.output_dir);
    row.push_back(results::point_done(p) ? "done" : "to run");
    rows.push_back(std::move(row));
  }
  std::cout << results::aligned_table(header, rows, header.size());
}

int run(const po::variables_map& vm, const ProcessGroup& group) {
  const auto path = vm["sweep"].as<std::string>();
  std::optional<std::string> out;
  if (vm.count("out")) out = vm["out"].as<std::string>();
  const Shard shard = vm.count("shard") ? parse_shard(vm["shard"].as<std::string>()) : Shard{};
  const int jobs = cores_option(vm, "jobs");

  const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const scenarios::Sweep sweep = scenarios::load_sweep_file(path, out, sets, jobs);
  if (vm.count("list")) {
    if (group.rank() == 0) list_points(sweep);
    return 0;
  }
  require_output_dir(sweep.output_dir);
  const int count = static_cast<int>(sweep.points.size());
  const auto mine = assigned_points(count, shard.index, shard.count, group.rank(), group.size());
  // The largest point, as many times as points run at once.
  std::vector<MemoryPart> largest;
  int largest_index = 0;
  for (int i : mine) {
    auto parts = estimate_run_memory(sweep.points[static_cast<size_t>(i)].scenario);
    if (total_bytes(parts) > total_bytes(largest)) largest = std::move(parts), largest_index = i;
  }
  // Points at once here: threads or worker processes.
  const int workers = static_cast<int>(std::min<size_t>(static_cast<size_t>(jobs), std::max<size_t>(1, mine.size())));
  require_memory(largest, workers, memory_limit(vm), "sweep point " + std::to_string(largest_index));
  const bool lead = group.rank() == 0;
  // Points in processes of their own where more than one runs at once; under MPI, threads (a
  // forked rank's copy of the MPI library is not to be used, and some transports break on fork).
  const bool processes = workers > 1 && group.size() == 1 && worker_processes_available();
  if (lead) {
    std::cout << "moesim sweep " << sweep.name << ": " << points(count) << " over " << axes_line(sweep) << ", base " << sweep.base << "\n";
    if (shard.count > 1) std::cout << "shard " << shard.index + 1 << "/" << shard.count << ", ";
    if (group.size() > 1) std::cout << "rank 0 of " << group.size() << ", ";
    std::cout << "running " << points(static_cast<int>(mine.size())) << " here on " << workers
              << (processes      ? " processes"
                  : workers == 1 ? " thread"
                                 : " threads")
              << "\n\n"
              << std::flush;
  }

  Progress progress(lead && !vm.count("quiet"), "points");
  const auto progress_of = [&](int done, int total) { progress(done, total); };
  const SweepRunStats stats =
      processes ? run_sweep_points_in_processes(sweep, mine, jobs, results::directory_point_runner(), progress_of, error_report)
                : run_sweep_points(sweep, mine, jobs, results::directory_point_runner(), progress_of);

  // Rank 0 gathers every rank's points' summaries; points of other shards are read from disk.
  std::vector<int> all(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) all[static_cast<size_t>(i)] = i;
  std::map<int, std::string> summaries = results::point_summaries(sweep, shard.count > 1 ? all : mine);
  const auto gathered = group.gather(pack(summaries));
  if (!lead) return 0;
  for (const auto& message : gathered) unpack(message, summaries);

  std::cout << (group.size() > 1 ? "rank 0 " : "") << "ran " << points(stats.ran) << ", skipped " << stats.skipped << " already done\n";
  if (static_cast<int>(summaries.size()) < count) {
    std::cout << summaries.size() << " of " << count << " points have results; once every shard has run, `moesim sweep " << path
              << (out ? " --out " + *out : std::string()) << "` writes sweep.csv and sweep.h5\n";
    return 0;
  }
  const results::SweepTable table = results::combined_table(sweep, summaries);
  const std::filesystem::path dir(sweep.output_dir);
  try {
    files::write_file_atomically((dir / "sweep.csv").string(), results::sweep_csv(table));
    results::write_sweep_h5((dir / "sweep.h5").string(), table);
  } catch (const files::FileError& e) {
    throw scenarios::ScenarioError("", "output.dir", e.what());
  }
  std::cout << "\n"
            << results::sweep_table(table, emphasis()) << "\nwrote " << (dir / "sweep.csv").string() << ", " << (dir / "sweep.h5").string()
            << " and a directory per point under " << (dir / "points").string() << "\n";
  return 0;
}

}  // namespace

int cmd_sweep(const std::vector<std::string>& args) {
  po::options_description o("moesim sweep options");
  o.add_options()("help,h", "show this help")("jobs,j", po::value<int>()->value_name("N"),
                                              "points run at once on this machine (default: the cores it may run on)")(
      "out", po::value<std::string>()->value_name("DIR"), "output directory (instead of the sweep's output.dir)")(
      "shard", po::value<std::string>()->value_name("I/N"),
      "run only every N-th point from the I-th (1 <= I <= N), e.g. one job of a Slurm array")(
      "set", po::value<std::vector<std::string>>()->composing()->value_name("KEY.PATH=VALUE"),
      "override a value of every point (repeatable), e.g. --set steps=50")(
      "list", "list the points and whether each is done, and run nothing")("quiet,q", "no progress bar");
  o.add(memory_options());
  const auto vm = parse_with_file(args, o, "sweep");
  if (vm.count("help")) {
    std::cout << kUsage << "\n\n"
              << "Runs every point of a sweep file (a base scenario with grid and zip axes of overrides) and writes\n"
                 "OUT/points/NNNN/ (what `moesim run` writes), OUT/sweep.csv and OUT/sweep.h5. Points already done are\n"
                 "skipped, so an interrupted sweep resumes. Under mpirun the ranks share the points.\n\n"
              << o;
    return 0;
  }
  if (!vm.count("sweep")) throw UsageError("`moesim sweep` needs a sweep file (see --help)");
  const ProcessGroup group;
  if (group.size() == 1) return run(vm, group);
  // One rank's error must end the job: the others would wait for it forever.
  try {
    return run(vm, group);
  } catch (const std::exception& e) {
    std::cerr << "moesim: error (rank " << group.rank() << "): " << e.what() << "\n";
    group.abort(dynamic_cast<const scenarios::ScenarioError*>(&e) || dynamic_cast<const OptionError*>(&e) ? 2 : 1);
  }
}

}  // namespace moesim::cli
