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

// What a run killed mid-write leaves: temporaries that the rename never replaced.
void remove_temporaries(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().find(".tmp") != std::string::npos) std::filesystem::remove(entry.path(), ec);
  }
}

void run_point(const scenarios::SweepPoint& point) {
  const scenarios::Scenario& s = point.scenario;
  std::filesystem::create_directories(s.output_dir);
  remove_temporaries(s.output_dir);
  const auto source = make_gating_source(s);
  const RunResult run = run_scenario(s, *source);
  results::write_run_outputs(s, scenarios::resolved_yaml(s), summarize(s, run), run, false);
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
    const bool skipped = point_done(point);
    if (!skipped) run_point(point);
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
