#include "sim/step/step_metrics.h"

#include <algorithm>

namespace moesim {
namespace {

struct Interval {
  int64_t start, end;  // picoseconds
};

// Time covered by `comm` and not by `compute`; both are sorted and free of overlaps (each is one
// stream's tasks).
int64_t uncovered(const std::vector<Interval>& comm, const std::vector<Interval>& compute) {
  int64_t total = 0;
  size_t j = 0;
  for (const Interval& c : comm) {
    int64_t at = c.start;
    while (j < compute.size() && compute[j].end <= at) ++j;
    for (size_t k = j; k < compute.size() && compute[k].start < c.end; ++k) {
      if (compute[k].start > at) total += compute[k].start - at;
      at = std::max(at, compute[k].end);
    }
    if (at < c.end) total += c.end - at;
  }
  return total;
}

// Per lane: exposed communication and idle time.
void record_overlap(const ExecutedStep& step, StepResult& result) {
  const int lanes = step.lanes.count();
  std::vector<std::vector<Interval>> streams(2 * static_cast<size_t>(lanes));
  for (engine::TaskId t = 0; t < step.graph.task_count(); ++t) {
    const auto& timing = step.schedule.tasks[t];
    for (engine::ResourceId r : step.graph.resources(t)) {
      streams[r].push_back({timing.start.since_start().picoseconds(), timing.end.since_start().picoseconds()});
    }
  }
  std::vector<int64_t> exposed(lanes);
  for (int lane = 0; lane < lanes; ++lane) {
    for (auto* s : {&streams[compute_stream(lane)], &streams[comm_stream(lane)]}) {
      std::sort(s->begin(), s->end(), [](const Interval& a, const Interval& b) { return a.start < b.start; });
    }
    exposed[lane] = uncovered(streams[comm_stream(lane)], streams[compute_stream(lane)]);
  }
  double exposed_sum = 0, idle_sum = 0;
  const int64_t step_ps = result.step_time.picoseconds();
  for (int lane : step.lanes.of_gpu) {
    exposed_sum += static_cast<double>(exposed[lane]);
    idle_sum += static_cast<double>(step_ps - exposed[lane] - step.schedule.resource_busy[compute_stream(lane)].picoseconds());
  }
  const double gpus = static_cast<double>(step.lanes.of_gpu.size());
  result.exposed_comm = Picoseconds(static_cast<int64_t>(exposed_sum / gpus));
  result.bubble = Picoseconds(static_cast<int64_t>(idle_sum / gpus));
}

}  // namespace

void record_times(const ExecutedStep& step, StepResult& result) {
  const engine::Schedule& schedule = step.schedule;
  result.step_time = schedule.makespan.since_start();
  const auto took = [&](engine::TaskId task) { return schedule.tasks[task].end - schedule.tasks[task].start; };
  std::vector<Duration> per_stage(step.costs.pp);
  for (size_t i = 0; i < step.tasks.all_to_alls.size(); ++i) {
    Duration slowest;
    for (engine::TaskId task : step.tasks.all_to_alls[i]) slowest = Max(slowest, took(task));
    per_stage[step.tasks.all_to_all_stage[i]] += slowest;
  }
  result.all_to_all_time = *std::max_element(per_stage.begin(), per_stage.end());
  for (engine::TaskId task : step.tasks.migrations) result.migration_time = Max(result.migration_time, took(task));
  result.compute_busy.resize(step.costs.gpus);
  for (int g = 0; g < step.costs.gpus; ++g) result.compute_busy[g] = schedule.resource_busy[compute_stream(step.lanes.of_gpu[g])];
  record_overlap(step, result);
}

}  // namespace moesim
