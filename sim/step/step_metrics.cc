#include "sim/step/step_metrics.h"

namespace moesim {

void record_times(const ExecutedStep& step, StepResult& result) {
  const engine::Schedule& schedule = step.schedule;
  result.step_time = schedule.makespan.since_start();
  const auto took = [&](engine::TaskId task) { return schedule.tasks[task].end - schedule.tasks[task].start; };
  for (const auto& groups : step.tasks.all_to_alls) {
    Duration slowest;
    for (engine::TaskId task : groups) slowest = Max(slowest, took(task));
    result.all_to_all_time += slowest;
  }
  for (engine::TaskId task : step.tasks.migrations) result.migration_time = Max(result.migration_time, took(task));
  result.compute_busy.resize(step.costs.gpus);
  for (int g = 0; g < step.costs.gpus; ++g) result.compute_busy[g] = schedule.resource_busy[compute_stream(g)];
}

}  // namespace moesim
