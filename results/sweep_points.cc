#include "results/sweep_points.h"

#include <filesystem>

#include "results/run_outputs.h"
#include "results/summary_csv.h"
#include "sim/runner.h"
#include "sim/summary.h"

namespace moesim::results {
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
  RunOutputs outputs(s, 0, files::DirectoryLock::Wait::kYes);
  if (point_done(point)) return false;
  const auto source = make_gating_source(s);
  const RunResult run = run_scenario(s, *source);
  outputs.commit(point.resolved_yaml, summarize(s, run), run);
  return true;
}

}  // namespace

bool point_done(const scenarios::SweepPoint& point) { return has_run_outputs(point.scenario.output_dir, point.resolved_yaml); }

PointRunner directory_point_runner() { return {point_done, run_point}; }

std::map<int, std::string> point_summaries(const scenarios::Sweep& sweep, const std::vector<int>& points) {
  std::map<int, std::string> out;
  for (int i : points) {
    const auto& point = sweep.points.at(static_cast<size_t>(i));
    if (!point_done(point)) continue;
    if (auto text = read_text_file((std::filesystem::path(point.scenario.output_dir) / "summary.csv").string())) {
      out[i] = std::move(*text);
    }
  }
  return out;
}

SweepTable combined_table(const scenarios::Sweep& sweep, const std::map<int, std::string>& summaries) {
  SweepTable table;
  table.name = sweep.name;
  for (const auto& axis : sweep.axes) table.axes.push_back(axis.key);
  for (const auto& point : sweep.points) {
    const auto it = summaries.find(point.index);
    if (it == summaries.end())
      throw std::runtime_error("point " + std::to_string(point.index) + " has no result in " + point.scenario.output_dir);
    try {
      table.points.push_back({point.index, point.values, parse_summary_csv(it->second)});
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(point.scenario.output_dir + "/summary.csv: " + e.what());
    }
  }
  return table;
}

}  // namespace moesim::results
