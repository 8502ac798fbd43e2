// The executor's timing of a graph in the order its tasks started the time before (task_graph.h):
// retime() for a graph without shared tasks, in one pass over that order; retime_shared() for one
// with them, each resource's tasks in that order and the shared work handed on in time order.
#include <algorithm>
#include <functional>

#include "sim/engine/task_graph.h"

namespace moesim::engine {
namespace {

constexpr TaskId kNone = ~TaskId{0};

}  // namespace

void TaskGraphExecutor::begin_in_order(const TaskGraph& graph, Schedule& out) {
  const size_t n = graph.task_count();
  late_.assign(n, 0);
  line_last_.assign(graph.resource_count(), kNone);
  line_last_ready_.resize(graph.resource_count());
  line_last_late_.resize(graph.resource_count());
  // A task's start holds its ready time until it is timed.
  out.tasks.assign(n, TaskTiming{});
  out.resource_busy.assign(graph.resource_count(), Duration());
  out.makespan = SimTime::Zero();
}

bool TaskGraphExecutor::start_in_line(const TaskGraph& graph, TaskId t, const Schedule& out, SimTime& start) {
  const SimTime ready = out.tasks[t].start;
  const bool late = late_[t] != 0;
  const int32_t priority = graph.priority(t);
  start = ready;
  for (const ResourceId r : graph.resources(t)) {
    const TaskId last = line_last_[r];
    if (last != kNone) {
      // `last` must be ahead of t in line (Waiting's order: ready time, higher priority, id).
      const SimTime last_ready = line_last_ready_[r];
      const int32_t last_priority = graph.priority(last);
      if (last_ready > ready || (last_ready == ready && (last_priority < priority || (last_priority == priority && last > t))))
        return false;
      // `last` became ready only once a task of zero time had ended at that instant, after the
      // instant's first starts: t, ready then too, may have started before it (task_graph.h).
      if (line_last_late_[r] && last_ready == ready) return false;
      start = std::max(start, out.tasks[last].end);
    }
    line_last_[r] = t;
    line_last_ready_[r] = ready;
    line_last_late_[r] = late;
  }
  return true;
}

SimTime TaskGraphExecutor::run_from(const TaskGraph& graph, TaskId t, SimTime start, Schedule& out) {
  const Duration d = graph.duration(t);
  const SimTime end = start + d;
  out.tasks[t] = TaskTiming{start, end};
  for (const ResourceId r : graph.resources(t)) out.resource_busy[r] += d;
  out.makespan = std::max(out.makespan, end);
  return end;
}

void TaskGraphExecutor::ready_by(TaskId next, SimTime end, bool zero_time, Schedule& out) {
  SimTime& next_ready = out.tasks[next].start;
  if (end > next_ready) {
    next_ready = end;
    late_[next] = zero_time;
  } else if (end == next_ready) {
    late_[next] |= zero_time;
  }
}

bool TaskGraphExecutor::retime(const TaskGraph& graph, Schedule& out) {
  const size_t n = graph.task_count();
  if (order_.size() != n) return false;
  constexpr uint32_t kTimed = ~uint32_t{0};
  // An order kept for this very shape is topological (the events started each task after its
  // inputs, or an earlier pass checked it): only the lines need checking.
  const bool topological = graph.shape() != 0 && graph.shape() == ordered_shape_;
  if (!topological) count_inputs();
  begin_in_order(graph, out);
  for (const TaskId t : order_) {
    // Not yet timed, and every input timed before it: otherwise the order is not topological.
    if (!topological) {
      if (t >= n || pending_inputs_[t] != 0) return false;
      pending_inputs_[t] = kTimed;
    }
    if (graph.shared(t)) return false;
    SimTime start;
    if (!start_in_line(graph, t, out, start)) return false;
    const Duration d = graph.duration(t);
    const SimTime end = run_from(graph, t, start, out);
    for (uint32_t s = successor_begin_[t]; s < successor_begin_[t + 1]; ++s) {
      ready_by(successors_[s], end, d == Duration(), out);
      if (!topological) --pending_inputs_[successors_[s]];
    }
  }
  ordered_shape_ = graph.shape();
  return true;
}

void TaskGraphExecutor::line_up(const TaskGraph& graph) {
  const uint64_t shape = graph.shape();
  if (shape != 0 && shape == lined_up_shape_ && order_run_ == lined_up_run_) return;
  lined_up_shape_ = shape;
  lined_up_run_ = order_run_;
  const uint32_t resource_count = graph.resource_count();
  lines_begin_.assign(resource_count + 1, 0);
  for (const TaskId t : order_) {
    for (const ResourceId r : graph.resources(t)) ++lines_begin_[r + 1];
  }
  for (uint32_t r = 0; r < resource_count; ++r) lines_begin_[r + 1] += lines_begin_[r];
  lines_order_.resize(lines_begin_.back());
  line_at_.assign(lines_begin_.begin(), lines_begin_.end() - 1);
  for (const TaskId t : order_) {
    for (const ResourceId r : graph.resources(t)) lines_order_[line_at_[r]++] = t;
  }
}

bool TaskGraphExecutor::retime_shared(const TaskGraph& graph, Schedule& out) {
  const size_t n = graph.task_count();
  if (order_.size() != n) return false;
  line_up(graph);
  // What each task waits for: its inputs, and on each of its resources but where it comes first,
  // the task before it there (pending_inputs_, which the events count again before they run).
  pending_inputs_.resize(n);
  for (TaskId t = 0; t < n; ++t) pending_inputs_[t] = inputs_[t] + static_cast<uint32_t>(graph.resources(t).size());
  const uint32_t resource_count = graph.resource_count();
  for (uint32_t r = 0; r < resource_count; ++r) {
    if (lines_begin_[r] != lines_begin_[r + 1]) --pending_inputs_[lines_order_[lines_begin_[r]]];
  }
  line_at_.assign(lines_begin_.begin(), lines_begin_.end() - 1);
  begin_in_order(graph, out);
  timeable_.clear();
  shared_starts_.clear();
  for (TaskId t = 0; t < n; ++t) {
    if (pending_inputs_[t] == 0) timeable_.push_back(t);
  }
  // The shared work is handed on in time order, as the events would: the work done by an instant
  // before the tasks that start then (which come in the order of their ids). The tasks not yet
  // timed all wait for shared work not yet done, so none of them starts before it is.
  size_t timed = 0;
  std::optional<SimTime> handed_on;  // when shared work was last handed on
  while (true) {
    for (size_t head = 0; head < timeable_.size(); ++head) {
      if (!time_in_order(graph, timeable_[head], out)) return false;
      ++timed;
    }
    timeable_.clear();
    const std::optional<SimTime> done = shared_->next_finish();
    if (!shared_starts_.empty() && (!done || shared_starts_.front().first < *done)) {
      const SimTime now = shared_starts_.front().first;
      while (!shared_starts_.empty() && shared_starts_.front().first == now) {
        std::pop_heap(shared_starts_.begin(), shared_starts_.end(), std::greater<>());
        shared_->start(shared_starts_.back().second, now);
        shared_starts_.pop_back();
      }
      handed_on = now;
      continue;
    }
    if (!done) break;
    if (const auto t = shared_->finish(*done)) {
      const SimTime end = *done + graph.duration(*t);
      finish_shared(graph, *t, end, out);
      // Work done, with no tail, at an instant that work was handed on: the events end its task
      // after that instant's starts, as a task of zero time, and what waits for it is made ready late.
      ended_in_order(graph, *t, end, handed_on == *done && end == *done, out);
    }
  }
  // A task never timed waits for one after it in order_: that order is not the events'.
  return timed == n;
}

bool TaskGraphExecutor::time_in_order(const TaskGraph& graph, TaskId t, Schedule& out) {
  SimTime start;
  if (!start_in_line(graph, t, out, start)) return false;
  for (const ResourceId r : graph.resources(t)) ++line_at_[r];
  if (graph.shared(t)) {
    out.tasks[t] = TaskTiming{start, start};
    shared_starts_.emplace_back(start, t);
    std::push_heap(shared_starts_.begin(), shared_starts_.end(), std::greater<>());
    return true;
  }
  ended_in_order(graph, t, run_from(graph, t, start, out), graph.duration(t) == Duration(), out);
  return true;
}

void TaskGraphExecutor::ended_in_order(const TaskGraph& graph, TaskId t, SimTime end, bool zero_time, Schedule& out) {
  for (uint32_t s = successor_begin_[t]; s < successor_begin_[t + 1]; ++s) {
    const TaskId next = successors_[s];
    ready_by(next, end, zero_time, out);
    if (--pending_inputs_[next] == 0) timeable_.push_back(next);
  }
  // On each of its resources, the next task in order_ no longer waits for it (t is still the last
  // timed there: the next could not be timed before t ended).
  for (const ResourceId r : graph.resources(t)) {
    if (line_at_[r] == lines_begin_[r + 1]) continue;
    const TaskId next = lines_order_[line_at_[r]];
    if (--pending_inputs_[next] == 0) timeable_.push_back(next);
  }
}

}  // namespace moesim::engine
