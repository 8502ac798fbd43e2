#include "sim/sweep.h"

#include <filesystem>
#include <mutex>

#include "scenarios/loader/loader.h"
#include "sim/results/run_outputs.h"
#include "sim/results/summary_csv.h"
#include "sim/parallel.h"
#include "sim/runner.h"
#include "sim/summary.h"

namespace moesim {
namespace {

// A point's directory is moesim's own: a real directory, never a link into the user's tree.
void require_point_directory(const std::string& dir) {
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(dir, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
    throw files::FileError("cannot use '" + dir + "' for a sweep point: it is " +
                           (std::filesystem::is_symlink(status) ? "a symbolic link" : "not a directory") +
                           "; moesim writes a point only into a directory of its own (move it away)");
  }
}

// Returns false when another process finished the point while this one waited for its lock.
bool run_point(const scenarios::SweepPoint& point) {
  const scenarios::Scenario& s = point.scenario;
  require_point_directory(s.output_dir);
  results::RunOutputs outputs(s, 0, files::DirectoryLock::Wait::kYes);
  if (point_done(point)) return false;
  const auto source = make_gating_source(s);
  const RunResult run = run_scenario(s, *source);
  outputs.commit(scenarios::resolved_yaml(s), summarize(s, run), run);
  return true;
}

}  // namespace

std::vector<int> assigned_points(int count, int shard, int shards, int rank, int ranks) {
  std::vector<int> out;
  int position = 0;  // among the shard's points
  for (int i = shard; i < count; i += shards, ++position) {
    if (position % ranks == rank) out.push_back(i);
  }
  return out;
}

bool point_done(const scenarios::SweepPoint& point) {
  return results::has_run_outputs(point.scenario.output_dir, scenarios::resolved_yaml(point.scenario));
}

SweepRunStats run_sweep_points(const scenarios::Sweep& sweep, const std::vector<int>& points, int jobs,
                               const SweepProgressFn& progress) {
  SweepRunStats stats;
  std::mutex lock;  // guards stats and progress
  parallel_for(points.size(), jobs, [&](size_t i) {
    const auto& point = sweep.points.at(static_cast<size_t>(points[i]));
    const bool skipped = point_done(point) || !run_point(point);
    const std::lock_guard<std::mutex> guard(lock);
    ++(skipped ? stats.skipped : stats.ran);
    if (progress) progress(stats.ran + stats.skipped, static_cast<int>(points.size()));
  });
  return stats;
}

std::map<int, std::string> point_summaries(const scenarios::Sweep& sweep, const std::vector<int>& points) {
  std::map<int, std::string> out;
  for (int i : points) {
    const auto& point = sweep.points.at(static_cast<size_t>(i));
    if (!point_done(point)) continue;
    if (auto text = results::read_text_file((std::filesystem::path(point.scenario.output_dir) / "summary.csv").string())) {
      out[i] = std::move(*text);
    }
  }
  return out;
}

results::SweepTable sweep_table(const scenarios::Sweep& sweep, const std::map<int, std::string>& summaries) {
  results::SweepTable table;
  table.name = sweep.name;
  for (const auto& axis : sweep.axes) table.axes.push_back(axis.key);
  for (const auto& point : sweep.points) {
    const auto it = summaries.find(point.index);
    if (it == summaries.end()) throw std::runtime_error("point " + std::to_string(point.index) + " has no result in " + point.scenario.output_dir);
    try {
      table.points.push_back({point.index, point.values, results::parse_summary_csv(it->second)});
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(point.scenario.output_dir + "/summary.csv: " + e.what());
    }
  }
  return table;
}

}  // namespace moesim
