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

SweepRunStats run_sweep_points(const scenarios::Sweep& sweep, const std::vector<int>& points, int jobs, const PointRunner& runner,
                               const SweepProgressFn& progress) {
  SweepRunStats stats;
  std::mutex lock;  // guards stats and progress
  parallel_for(points.size(), jobs, [&](size_t i) {
    const auto& point = sweep.points.at(static_cast<size_t>(points[i]));
    const bool skipped = runner.done(point) || !runner.run(point);
    const std::lock_guard<std::mutex> guard(lock);
    ++(skipped ? stats.skipped : stats.ran);
    if (progress) progress(stats.ran + stats.skipped, static_cast<int>(points.size()));
  });
  return stats;
}

SweepRunStats run_sweep_points_in_processes(const scenarios::Sweep& sweep, const std::vector<int>& points, int jobs,
                                            const PointRunner& runner, const SweepProgressFn& progress,
                                            const std::function<WorkerReport(std::exception_ptr)>& report) {
  SweepRunStats stats;
  for_each_in_processes(
      points.size(), jobs,
      [&](size_t i) {
        const auto& point = sweep.points.at(static_cast<size_t>(points[i]));
        return runner.done(point) || !runner.run(point) ? 0 : 1;
      },
      [&](size_t, int ran) {
        ++(ran != 0 ? stats.ran : stats.skipped);
        if (progress) progress(stats.ran + stats.skipped, static_cast<int>(points.size()));
      },
      report);
  return stats;
}

}  // namespace moesim
