#include "sim/sweep.h"

#include <mutex>

#include "sim/base/parallel.h"

namespace moesim {

std::vector<int> assigned_points(int count, int shard, int shards, int rank, int ranks) {
  std::vector<int> out;
  int position = 0;  // among the shard's points
  for (int i = shard; i < count; i += shards, ++position) {
    if (position % ranks == rank) out.push_back(i);
  }
  return out;
}

namespace {

// Runs point `index` unless its result is there; whether it ran.
bool run_unless_done(const PointRunner& runner, const scenarios::Sweep& sweep, int index) {
  const auto& point = sweep.points.at(static_cast<size_t>(index));
  return !runner.done(point) && runner.run(point);
}

void count_point(SweepRunStats& stats, bool ran, int total, const SweepProgressFn& progress) {
  ++(ran ? stats.ran : stats.skipped);
  if (progress) progress(stats.ran + stats.skipped, total);
}

}  // namespace

SweepRunStats run_sweep_points(const scenarios::Sweep& sweep, const std::vector<int>& points, int jobs, const PointRunner& runner,
                               const SweepProgressFn& progress) {
  SweepRunStats stats;
  std::mutex lock;  // guards stats and progress
  parallel_for(points.size(), jobs, [&](size_t i) {
    const bool ran = run_unless_done(runner, sweep, points[i]);
    const std::lock_guard<std::mutex> guard(lock);
    count_point(stats, ran, static_cast<int>(points.size()), progress);
  });
  return stats;
}

SweepRunStats run_sweep_points_in_processes(const scenarios::Sweep& sweep, const std::vector<int>& points, int jobs,
                                            const PointRunner& runner, const SweepProgressFn& progress,
                                            const std::function<WorkerReport(std::exception_ptr)>& report) {
  SweepRunStats stats;
  for_each_in_processes(
      points.size(), jobs, [&](size_t i) { return run_unless_done(runner, sweep, points[i]) ? 1 : 0; },
      [&](size_t, int ran) { count_point(stats, ran != 0, static_cast<int>(points.size()), progress); }, report);
  return stats;
}

}  // namespace moesim
