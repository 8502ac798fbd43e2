#include "sim/engine/task_graph.h"

#include <algorithm>
#include <atomic>
#include <cassert>

namespace moesim::engine {

uint64_t TaskGraph::new_shape() {
  static std::atomic<uint64_t> last{0};
  return ++last;
}

TaskGraph& TaskGraph::operator=(TaskGraph&& other) noexcept {
  if (this == &other) return *this;
  resource_count_ = other.resource_count_;
  tasks_ = std::exchange(other.tasks_, 0);
  edge_count_ = std::exchange(other.edge_count_, 0);
  repeating_ = std::exchange(other.repeating_, false);
  shape_ = std::exchange(other.shape_, new_shape());
  durations_ = std::move(other.durations_);
  shared_ = std::move(other.shared_);
  priorities_ = std::move(other.priorities_);
  tags_ = std::move(other.tags_);
  resource_begin_ = std::move(other.resource_begin_);
  resource_ids_ = std::move(other.resource_ids_);
  edges_ = std::move(other.edges_);
  other.reset(other.resource_count_);
  return *this;
}

TaskId TaskGraph::add_task(Duration duration, std::span<const ResourceId> resources, int32_t priority, uint32_t tag) {
  return add(duration, resources, priority, tag, 0);
}

TaskId TaskGraph::add_shared_task(Duration tail, std::span<const ResourceId> resources, int32_t priority, uint32_t tag) {
  return add(tail, resources, priority, tag, 1);
}

bool TaskGraph::repeats(std::span<const ResourceId> resources, int32_t priority, uint32_t tag, uint8_t shared) const {
  if (tasks_ == durations_.size() || shared_[tasks_] != shared || priorities_[tasks_] != priority || tags_[tasks_] != tag) return false;
  const uint32_t begin = resource_begin_[tasks_];
  if (resource_begin_[tasks_ + 1] - begin != resources.size()) return false;
  // Mostly one resource: a loop, not std::equal's call to memcmp.
  const ResourceId* old = resource_ids_.data() + begin;
  for (size_t i = 0; i < resources.size(); ++i)
    if (old[i] != resources[i]) return false;
  return true;
}

TaskId TaskGraph::add(Duration duration, std::span<const ResourceId> resources, int32_t priority, uint32_t tag, uint8_t shared) {
  assert(duration >= Duration());
  const auto id = static_cast<TaskId>(tasks_);
  if (repeating_) {
    if (repeats(resources, priority, tag, shared)) {
      durations_[tasks_++] = duration;
      return id;
    }
    diverge();
  }
  durations_.push_back(duration);
  shared_.push_back(shared);
  priorities_.push_back(priority);
  tags_.push_back(tag);
  for (ResourceId r : resources) {
    assert(r < resource_count_);
    resource_ids_.push_back(r);
  }
  resource_begin_.push_back(static_cast<uint32_t>(resource_ids_.size()));
  ++tasks_;
  return id;
}

void TaskGraph::add_dependency(TaskId before, TaskId after) {
  assert(before < after && after < tasks_);
  if (repeating_) {
    if (edge_count_ < edges_.size() && edges_[edge_count_] == std::pair(before, after)) {
      ++edge_count_;
      return;
    }
    diverge();
  }
  edges_.emplace_back(before, after);
  ++edge_count_;
}

void TaskGraph::diverge() {
  repeating_ = false;
  shape_ = new_shape();
  durations_.resize(tasks_);
  shared_.resize(tasks_);
  priorities_.resize(tasks_);
  tags_.resize(tasks_);
  resource_begin_.resize(tasks_ + 1);
  resource_ids_.resize(resource_begin_.back());
  edges_.resize(edge_count_);
}

void TaskGraph::reset(uint32_t resource_count) {
  resource_count_ = resource_count;
  tasks_ = 0;
  edge_count_ = 0;
  repeating_ = false;
  shape_ = new_shape();
  durations_.clear();
  shared_.clear();
  priorities_.clear();
  tags_.clear();
  resource_begin_.assign(1, 0);
  resource_ids_.clear();
  edges_.clear();
}

void TaskGraph::rebuild(uint32_t resource_count) {
  // The last build, if it repeated only part of the graph before it, is a shape of its own.
  if (repeated_a_part()) diverge();
  if (resource_count != resource_count_) return reset(resource_count);
  tasks_ = 0;
  edge_count_ = 0;
  repeating_ = true;
}

uint64_t TaskGraph::shape() const { return repeated_a_part() ? 0 : shape_; }

bool TaskGraph::repeated_a_part() const { return repeating_ && (tasks_ < durations_.size() || edge_count_ < edges_.size()); }

bool TaskGraph::any_shared() const {
  return std::find(shared_.begin(), shared_.begin() + static_cast<std::ptrdiff_t>(tasks_), uint8_t{1}) !=
         shared_.begin() + static_cast<std::ptrdiff_t>(tasks_);
}

bool TaskGraphExecutor::later_in_line(const Waiting& a, const Waiting& b) {
  if (a.ready != b.ready) return a.ready > b.ready;
  if (a.priority != b.priority) return a.priority < b.priority;
  return a.task > b.task;
}

void TaskGraphExecutor::execute(const TaskGraph& graph, Schedule& out, SharedCapacity* shared) {
  // The graph may be timed in a kept order; with shared tasks, only where their capacity can rewind
  // (to hand the events a fresh one if that order fails).
  shared_ = graph.any_shared() ? shared : nullptr;
  link_successors(graph);
  retimed_ = shared_ == nullptr ? retime(graph, out) : shared_->rewind() && retime_shared(graph, out);
  if (retimed_) return;
  if (shared_ != nullptr) shared_->rewind();
  count_inputs();
  run_events(graph, out);
}

void TaskGraphExecutor::link_successors(const TaskGraph& graph) {
  const uint64_t shape = graph.shape();
  if (shape != 0 && shape == linked_shape_) return;
  linked_shape_ = shape;
  // Successor lists in compressed form, by counting sort on the predecessor.
  const size_t n = graph.task_count();
  successor_begin_.assign(n + 1, 0);
  for (const auto& [before, after] : graph.edges()) ++successor_begin_[before + 1];
  for (size_t i = 0; i < n; ++i) successor_begin_[i + 1] += successor_begin_[i];
  successors_.resize(graph.edges().size());
  fill_.assign(successor_begin_.begin(), successor_begin_.end() - 1);
  for (const auto& [before, after] : graph.edges()) successors_[fill_[before]++] = after;
  inputs_.assign(n, 0);
  for (const auto& edge : graph.edges()) ++inputs_[edge.second];
}

void TaskGraphExecutor::count_inputs() { pending_inputs_ = inputs_; }

void TaskGraphExecutor::start_events(const TaskGraph& graph, Schedule& out) {
  const size_t n = graph.task_count();
  const uint32_t resource_count = graph.resource_count();
  out.tasks.assign(n, TaskTiming{});
  out.resource_busy.assign(resource_count, Duration());
  out.makespan = SimTime::Zero();
  order_.clear();
  order_.reserve(n);
  ++order_run_;

  checked_.assign(n, 0);
  lines_.resize(resource_count);
  for (auto& line : lines_) line.clear();
  resource_busy_.assign(resource_count, 0);
  touched_mark_.assign(resource_count, 0);
  events_.clear();
  starting_shared_.clear();

  const SimTime zero = SimTime::Zero();
  touched_.clear();
  for (TaskId t = 0; t < n; ++t) {
    if (pending_inputs_[t] == 0) make_ready(graph, t, zero);
  }
  for (TaskId t = 0; t < n; ++t) {
    if (pending_inputs_[t] == 0 && graph.resources(t).empty()) start(graph, t, zero, out);
  }
  for (ResourceId r = 0; r < resource_count; ++r) try_start(graph, r, zero, out);
  untouch();
  start_shared_work(zero);
}

void TaskGraphExecutor::run_events(const TaskGraph& graph, Schedule& out) {
  start_events(graph, out);
  while (true) {
    // Shared work done before the next event goes on with its tail.
    while (shared_) {
      const auto done = shared_->next_finish();
      if (!done || (!events_.empty() && *events_.next_time() < *done)) break;
      if (const auto t = shared_->finish(*done)) events_.push(*done + graph.duration(*t), *t);
    }
    auto event = events_.pop();
    if (!event) break;
    const SimTime now = event->time;
    unconstrained_.clear();
    // Apply every completion at this instant before starting anything.
    for (bool more = true; more;) {
      const TaskId done = event->payload;
      if (graph.shared(done)) finish_shared(graph, done, now, out);
      for (ResourceId r : graph.resources(done)) {
        resource_busy_[r] = 0;
        touch(r);
      }
      for (uint32_t s = successor_begin_[done]; s < successor_begin_[done + 1]; ++s) {
        const TaskId next = successors_[s];
        if (--pending_inputs_[next] == 0) {
          make_ready(graph, next, now);
          if (graph.resources(next).empty()) unconstrained_.push_back(next);
        }
      }
      more = events_.next_time() == now;
      if (more) event = events_.pop();
    }
    for (TaskId t : unconstrained_) start(graph, t, now, out);
    // Which tasks start at an instant does not depend on the order the touched resources are
    // tried in (each starts that is first in line on all of its free resources); only the shared
    // work's order could, and start_shared_work fixes it.
    for (ResourceId r : touched_) try_start(graph, r, now, out);
    untouch();
    start_shared_work(now);
  }
  ordered_shape_ = graph.shape();
}

void TaskGraphExecutor::make_ready(const TaskGraph& graph, TaskId t, SimTime now) {
  for (ResourceId r : graph.resources(t)) {
    auto& line = lines_[r];
    const TaskId head = line.empty() ? t : line.front().task;
    line.push_back(Waiting{now, graph.priority(t), t});
    std::push_heap(line.begin(), line.end(), later_in_line);
    // A task that lost the head of a line it was found first in must be checked again from the start.
    if (line.front().task != head) checked_[head] = 0;
    touch(r);
  }
}

void TaskGraphExecutor::try_start(const TaskGraph& graph, ResourceId r, SimTime now, Schedule& out) {
  if (resource_busy_[r] || lines_[r].empty()) return;
  const TaskId head = lines_[r].front().task;
  // The resources before checked_[head] are free with `head` first in line, and stay so until it
  // starts (only a line's first task starts, and make_ready resets the count of a task it puts
  // behind another): a collective on thousands of streams is not rescanned as each one frees.
  const auto resources = graph.resources(head);
  for (uint32_t& i = checked_[head]; i < resources.size(); ++i) {
    const ResourceId other = resources[i];
    if (resource_busy_[other] || lines_[other].front().task != head) return;
  }
  for (ResourceId other : graph.resources(head)) {
    auto& line = lines_[other];
    std::pop_heap(line.begin(), line.end(), later_in_line);
    line.pop_back();
  }
  start(graph, head, now, out);
}

void TaskGraphExecutor::start_shared_work(SimTime now) {
  std::sort(starting_shared_.begin(), starting_shared_.end());
  for (TaskId t : starting_shared_) shared_->start(t, now);
  starting_shared_.clear();
}

void TaskGraphExecutor::finish_shared(const TaskGraph& graph, TaskId t, SimTime now, Schedule& out) {
  out.tasks[t].end = now;
  for (ResourceId r : graph.resources(t)) out.resource_busy[r] += now - out.tasks[t].start;
  if (now > out.makespan) out.makespan = now;
}

void TaskGraphExecutor::start(const TaskGraph& graph, TaskId t, SimTime now, Schedule& out) {
  order_.push_back(t);
  if (graph.shared(t)) {
    assert(shared_ && "a graph with shared tasks needs a SharedCapacity");
    for (ResourceId r : graph.resources(t)) resource_busy_[r] = 1;
    out.tasks[t] = TaskTiming{now, now};
    starting_shared_.push_back(t);
    return;
  }
  const Duration d = graph.duration(t);
  for (ResourceId r : graph.resources(t)) {
    resource_busy_[r] = 1;
    out.resource_busy[r] += d;
  }
  out.tasks[t] = TaskTiming{now, now + d};
  if (out.tasks[t].end > out.makespan) out.makespan = out.tasks[t].end;
  events_.push(now + d, t);
}

}  // namespace moesim::engine
