// A DAG of tasks on resources, and the discrete-event executor that schedules it.
//
// A task has a duration, the resources it occupies while it runs (none, one, or several:
// a collective occupies every participant's communication stream at once) and the tasks it
// waits for. A task is ready when all its predecessors have finished; it starts when it is
// first in line on every one of its resources and all of them are free.
//
// Line order on a resource is (ready time, higher priority first, task id). Because that key
// is one total order shared by all resources, the earliest waiting task is first in line on all
// of its resources, so gang-scheduled tasks never deadlock. Events at the same instant are all
// applied before any task starts, so priority decides among tasks that become ready together.
//
// Per resource, the tasks therefore start in line order, and each starts when it is ready and the
// task before it in line has ended on every one of its resources; the schedule is the one that
// satisfies these two rules. One exception: a task of zero time ends at the instant it starts, so
// what waits for it becomes ready after that instant's first starts, and a task behind it in line
// that was ready at the same instant may have gone first. The executor uses this to skip the
// events when it can: it keeps the order in which the last graph's tasks started, times the next
// graph in that order in one pass, and keeps the result if that order is a topological one in
// which each resource's tasks come in line order, and no task made ready late in that way has a
// task ready at the same instant after it in line; otherwise it runs the events. A simulation that
// builds the same graph every step with new durations mostly skips them, and, rebuilding it in
// place (rebuild()), also the successor lists and the order's topological check, which the
// executor keeps per shape of graph.
//
// A shared task's work runs at a rate that depends on what else runs at the same time (a fluid
// model, e.g. flows sharing network links): a SharedCapacity says when its work is done; its own
// duration is a fixed tail after that (e.g. latency). It holds its resources throughout. What a
// SharedCapacity sees depends on the order in time of the starts and ends of shared work, which a
// pass in the kept order does not have; where the capacity can rewind, the executor times each
// resource's tasks in the kept order as far as the shared work allows, hands that work on in time
// order (the work done by an instant before the work that starts then, which comes in the order
// of its tasks' ids, as the events hand it on), and times what waits for a shared task once its
// work is done. It keeps the result under the same checks, and all tasks timed; otherwise the
// capacity rewinds and the events run.
//
// The graph knows nothing of GPUs or MoE: resources and tasks are numbers, `tag` is the
// caller's. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "sim/base/large_buffer.h"
#include "sim/base/units.h"
#include "sim/engine/event_queue.h"

namespace moesim::engine {

using TaskId = uint32_t;
using ResourceId = uint32_t;

class TaskGraph {
 public:
  explicit TaskGraph(uint32_t resource_count = 0) : resource_count_(resource_count), shape_(new_shape()) {}
  TaskGraph(const TaskGraph&) = default;
  TaskGraph& operator=(const TaskGraph&) = default;
  // A moved-from graph is left empty, as reset() leaves it.
  TaskGraph(TaskGraph&& other) noexcept : TaskGraph(other.resource_count_) { *this = std::move(other); }
  TaskGraph& operator=(TaskGraph&& other) noexcept;
  ~TaskGraph() = default;

  uint32_t resource_count() const { return resource_count_; }
  size_t task_count() const { return tasks_; }

  // Adds a task; returns its id (ids are dense, in insertion order).
  TaskId add_task(Duration duration, std::span<const ResourceId> resources, int32_t priority = 0, uint32_t tag = 0);
  TaskId add_task(Duration duration, ResourceId resource, int32_t priority = 0, uint32_t tag = 0) {
    return add_task(duration, std::span<const ResourceId>(&resource, 1), priority, tag);
  }
  // A shared task: its work is timed by the SharedCapacity passed to the executor, then `tail`.
  TaskId add_shared_task(Duration tail, std::span<const ResourceId> resources, int32_t priority = 0, uint32_t tag = 0);
  // `after` starts only once `before` has finished. `before` must have been added first,
  // which makes every graph acyclic by construction.
  void add_dependency(TaskId before, TaskId after);

  // Removes all tasks, keeping capacity, and sets the number of resources.
  void reset(uint32_t resource_count);
  // Builds the graph again, expecting the last build's tasks and dependencies, added in the same
  // order: while they come again, only their durations are written (a simulation's graph mostly
  // keeps its shape from step to step, and comparing costs less than storing). The first task or
  // dependency that differs drops what is left of the old graph, and building goes on as after
  // reset().
  void rebuild(uint32_t resource_count);
  // The graph's shape, all but its durations: two states (of any graphs) with the same nonzero
  // shape have the same resource count, tasks and dependencies; 0 where a rebuild has so far
  // repeated only the start of the old graph (an executor can tell nothing from it).
  uint64_t shape() const;

  Duration duration(TaskId t) const { return durations_[t]; }
  bool shared(TaskId t) const { return shared_[t] != 0; }
  bool any_shared() const;
  uint32_t tag(TaskId t) const { return tags_[t]; }
  int32_t priority(TaskId t) const { return priorities_[t]; }
  std::span<const ResourceId> resources(TaskId t) const {
    return {resource_ids_.data() + resource_begin_[t], resource_begin_[t + 1] - resource_begin_[t]};
  }
  std::span<const std::pair<TaskId, TaskId>> edges() const { return {edges_.data(), edge_count_}; }

 private:
  static uint64_t new_shape();  // never the same twice in a process, never 0
  TaskId add(Duration duration, std::span<const ResourceId> resources, int32_t priority, uint32_t tag, uint8_t shared);
  // Whether the task being added is the old graph's task `tasks_` again, durations aside.
  bool repeats(std::span<const ResourceId> resources, int32_t priority, uint32_t tag, uint8_t shared) const;
  // Whether a rebuild has so far repeated only the start of the old graph.
  bool repeated_a_part() const;
  // Ends a rebuild's repetition: drops the old graph's tasks and dependencies not yet repeated,
  // and gives the graph a new shape.
  void diverge();

  uint32_t resource_count_;
  // Tasks and dependencies added since the last reset() or rebuild(); during a rebuild that has
  // repeated the old graph so far, the vectors still hold the old graph's rest beyond them.
  size_t tasks_ = 0, edge_count_ = 0;
  bool repeating_ = false;
  uint64_t shape_;
  LargeVector<Duration> durations_;
  LargeVector<uint8_t> shared_;
  LargeVector<int32_t> priorities_;
  LargeVector<uint32_t> tags_;
  LargeVector<uint32_t> resource_begin_{0};
  LargeVector<ResourceId> resource_ids_;
  LargeVector<std::pair<TaskId, TaskId>> edges_;
};

// Work of shared tasks that progresses at rates set by what runs concurrently. The executor
// calls start() when a shared task starts; finish() when next_finish() is the earliest event.
class SharedCapacity {
 public:
  virtual ~SharedCapacity() = default;
  // Task `t` starts its work at `now` (not before any earlier call's `now`).
  virtual void start(TaskId t, SimTime now) = 0;
  // When the first running task's work is done at the current rates; empty if none runs.
  virtual std::optional<SimTime> next_finish() const = 0;
  // Advances to `now`, which is next_finish(). Returns the task whose work is done then, if
  // that is what happened (the model may have events of its own, such as a task's next phase).
  virtual std::optional<TaskId> finish(SimTime now) = 0;
  // Forgets every task started and returns to time zero, keeping what it was told of the tasks;
  // false where it cannot, and then the executor runs every graph with shared tasks by its events.
  virtual bool rewind() { return false; }
};

struct TaskTiming {
  SimTime start;
  SimTime end;
};

// When every task ran, and how long each resource was busy.
struct Schedule {
  LargeVector<TaskTiming> tasks;
  std::vector<Duration> resource_busy;
  SimTime makespan;
};

// Runs task graphs through the event queue. Keeps its buffers between calls, so one executor
// per simulation avoids reallocating for every step.
class TaskGraphExecutor {
 public:
  // Executes `graph` from time zero. Fills `out` (resized as needed). `shared` times the work of
  // shared tasks; it must be given if the graph has any.
  void execute(const TaskGraph& graph, Schedule& out, SharedCapacity* shared = nullptr);
  // Whether the last execute() timed the graph in the order kept from the run before it.
  bool retimed() const { return retimed_; }

 private:
  struct Waiting {
    SimTime ready;
    int32_t priority;
    TaskId task;
  };
  static bool later_in_line(const Waiting& a, const Waiting& b);
  // The successor lists and input counts, unless they are those of the graph's shape already.
  void link_successors(const TaskGraph& graph);
  // Each task's inputs not yet done: all of them.
  void count_inputs();
  // Times the graph in order_ into `out`; false (and `out` unfinished) where that order is not
  // the one the events would give.
  bool retime(const TaskGraph& graph, Schedule& out);
  // For retime() and retime_shared(): no task timed yet, each ready at zero.
  void begin_in_order(const TaskGraph& graph, Schedule& out);
  // Task t starts after the tasks before it in order_ on each of its resources (timed), when it is
  // ready; false where one of them is not ahead of t in line, or made ready late at t's instant.
  bool start_in_line(const TaskGraph& graph, TaskId t, const Schedule& out, SimTime& start);
  // Task t, not shared, runs from `start`: its timing, its resources' busy time and the makespan;
  // returns its end.
  SimTime run_from(const TaskGraph& graph, TaskId t, SimTime start, Schedule& out);
  // A task that ends at `end` is an input of `next`.
  void ready_by(TaskId next, SimTime end, bool zero_time, Schedule& out);
  // The same for a graph with shared tasks: each resource's tasks in order_'s order, the shared
  // work handed to the SharedCapacity in time order; false (the capacity used) where that is not
  // the schedule the events would give.
  bool retime_shared(const TaskGraph& graph, Schedule& out);
  // Each resource's tasks in order_'s order, unless they are those of the graph's shape already.
  void line_up(const TaskGraph& graph);
  // In retime_shared(): times task t, whose inputs and whose predecessors in order_ on each of its
  // resources have ended; false where order_ is not the line order.
  bool time_in_order(const TaskGraph& graph, TaskId t, Schedule& out);
  // In retime_shared(): task t ends at `end`; what waited for it may be timed.
  void ended_in_order(const TaskGraph& graph, TaskId t, SimTime end, bool zero_time, Schedule& out);
  // Times the graph by its events, from the tasks ready at time zero.
  void run_events(const TaskGraph& graph, Schedule& out);
  void start_events(const TaskGraph& graph, Schedule& out);
  void make_ready(const TaskGraph& graph, TaskId t, SimTime now);
  void try_start(const TaskGraph& graph, ResourceId r, SimTime now, Schedule& out);
  void start(const TaskGraph& graph, TaskId t, SimTime now, Schedule& out);
  // Hands the shared tasks started at `now` to the SharedCapacity, in the order of their ids, so
  // that it sees the same calls whatever order the instant's starts came in.
  void start_shared_work(SimTime now);
  void finish_shared(const TaskGraph& graph, TaskId t, SimTime now, Schedule& out);
  // Notes that resource r may start a task now (once, however often it is touched).
  void touch(ResourceId r) {
    if (touched_mark_[r]) return;
    touched_mark_[r] = 1;
    touched_.push_back(r);
  }
  void untouch() {
    for (ResourceId r : touched_) touched_mark_[r] = 0;
    touched_.clear();
  }

  SharedCapacity* shared_ = nullptr;

  EventQueue<TaskId> events_;
  LargeVector<uint32_t> pending_inputs_;
  // Of the graph whose shape is linked_shape_: each task's successors, and its number of inputs.
  uint64_t linked_shape_ = 0;
  LargeVector<uint32_t> successor_begin_;
  LargeVector<TaskId> successors_;
  LargeVector<uint32_t> inputs_;
  LargeVector<uint32_t> checked_;            // per task: how many of its resources try_start found ready
  std::vector<std::vector<Waiting>> lines_;  // per resource, a heap
  std::vector<uint8_t> resource_busy_;
  std::vector<ResourceId> touched_;    // each resource at most once
  std::vector<uint8_t> touched_mark_;  // per resource: in touched_
  std::vector<TaskId> unconstrained_;
  std::vector<TaskId> starting_shared_;  // started at this instant, their work not yet handed on
  LargeVector<uint32_t> fill_;
  LargeVector<TaskId> order_;             // the tasks in the order they started, as the events ran
  uint64_t ordered_shape_ = 0;            // the shape of the graph order_ was last found topological for
  std::vector<TaskId> line_last_;         // retime(): per resource, the last task timed on it
  std::vector<SimTime> line_last_ready_;  // and when that task was ready
  std::vector<uint8_t> line_last_late_;   // and whether it was late (late_)
  // retime(): per task, whether it became ready as a task of zero time ended, which the events
  // apply after the starts of that instant
  LargeVector<uint8_t> late_;
  // retime_shared(): per resource, its tasks in order_'s order (lines_begin_ into lines_order_, made
  // by line_up() once per shape of graph and run of the events, which writes order_), and where
  // the last task timed on it stands; the tasks that wait for nothing more, timed first come first
  // (close to time order, and to each other in memory: DeepSeek-V3 2,048's step of a million tasks
  // 156 -> 140 ms against last come first); the shared tasks timed but not yet handed on, a heap by
  // (start, id).
  std::vector<uint32_t> lines_begin_, line_at_;
  LargeVector<TaskId> lines_order_;
  uint64_t lined_up_shape_ = 0, order_run_ = 0, lined_up_run_ = 0;
  std::vector<TaskId> timeable_;
  std::vector<std::pair<SimTime, TaskId>> shared_starts_;
  bool retimed_ = false;
};

}  // namespace moesim::engine
