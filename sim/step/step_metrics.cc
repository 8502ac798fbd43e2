#include "sim/step/step_metrics.h"

#include <algorithm>
#include <span>

namespace moesim {
namespace {

using Interval = MetricsBuffers::Interval;

// Time covered by `comm` and not by `compute`; both are sorted and free of overlaps (each is one
// stream's tasks).
int64_t uncovered(std::span<const Interval> comm, std::span<const Interval> compute) {
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

// The union of two streams' intervals (each sorted and free of overlaps) into `out`, sorted and
// free of overlaps.
void merge_streams(std::span<const Interval> a, std::span<const Interval> b, std::vector<Interval>& out) {
  out.clear();
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const Interval next = j == b.size() || (i < a.size() && a[i].start <= b[j].start) ? a[i++] : b[j++];
    if (!out.empty() && next.start <= out.back().end) {
      out.back().end = std::max(out.back().end, next.end);
    } else {
      out.push_back(next);
    }
  }
}

// Per lane: exposed communication and idle time.
void record_overlap(const ExecutedStep& step, StepResult& result, MetricsBuffers& b) {
  const int lanes = step.lanes.count();
  const size_t streams = kStreamsPerLane * static_cast<size_t>(lanes);
  const engine::TaskGraph& graph = step.graph;
  // Each stream's intervals in one array: counted (once per shape of graph), then placed (a
  // counting sort by stream).
  if (graph.shape() == 0 || graph.shape() != b.counted_shape) {
    b.counted_shape = graph.shape();
    b.stream_begin.assign(streams + 1, 0);
    for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
      for (engine::ResourceId r : graph.resources(t)) ++b.stream_begin[r + 1];
    }
    for (size_t s = 0; s < streams; ++s) b.stream_begin[s + 1] += b.stream_begin[s];
    b.intervals.resize(b.stream_begin.back());
  }
  b.fill.assign(b.stream_begin.begin(), b.stream_begin.end() - 1);
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const auto& timing = step.schedule.tasks[t];
    const Interval interval{timing.start.since_start().picoseconds(), timing.end.since_start().picoseconds()};
    for (engine::ResourceId r : graph.resources(t)) b.intervals[b.fill[r]++] = interval;
  }
  auto stream = [&](engine::ResourceId r) {
    return std::span<Interval>(b.intervals.data() + b.stream_begin[r], b.stream_begin[r + 1] - b.stream_begin[r]);
  };
  const auto earlier = [](const Interval& x, const Interval& y) { return x.start < y.start; };
  b.exposed.assign(lanes, 0);
  for (int lane = 0; lane < lanes; ++lane) {
    // A stream's tasks come in program order, mostly their order in time already.
    for (const auto s : {stream(compute_stream(lane)), stream(comm_stream(lane)), stream(data_parallel_stream(lane))}) {
      if (!std::is_sorted(s.begin(), s.end(), earlier)) std::sort(s.begin(), s.end(), earlier);
    }
    merge_streams(stream(comm_stream(lane)), stream(data_parallel_stream(lane)), b.comm);
    b.exposed[lane] = uncovered(b.comm, stream(compute_stream(lane)));
  }
  double exposed_sum = 0, idle_sum = 0;
  const int64_t step_ps = result.step_time.picoseconds();
  for (int lane : step.lanes.of_gpu) {
    exposed_sum += static_cast<double>(b.exposed[lane]);
    idle_sum += static_cast<double>(step_ps - b.exposed[lane] - step.schedule.resource_busy[compute_stream(lane)].picoseconds());
  }
  const double gpus = static_cast<double>(step.lanes.of_gpu.size());
  result.exposed_comm = Picoseconds(static_cast<int64_t>(exposed_sum / gpus));
  result.bubble = Picoseconds(static_cast<int64_t>(idle_sum / gpus));
}

}  // namespace

void record_times(const ExecutedStep& step, StepResult& result, MetricsBuffers& buffers) {
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
  record_overlap(step, result, buffers);
}

}  // namespace moesim
