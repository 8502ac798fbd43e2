#include "sim/engine/task_graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

namespace moesim::engine {
namespace {

Duration us(int64_t n) { return Microseconds(n); }
int64_t start_us(const Schedule& s, TaskId t) { return s.tasks[t].start.since_start().picoseconds() / 1'000'000; }
int64_t end_us(const Schedule& s, TaskId t) { return s.tasks[t].end.since_start().picoseconds() / 1'000'000; }
Schedule executed(const TaskGraph& g) {
  Schedule s;
  TaskGraphExecutor().execute(g, s);
  return s;
}

TEST(TaskGraph, ChainRunsBackToBack) {
  TaskGraph g(1);
  const TaskId a = g.add_task(us(3), 0);
  const TaskId b = g.add_task(us(4), 0);
  g.add_dependency(a, b);
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(g, s);
  EXPECT_EQ(start_us(s, b), 3);
  EXPECT_EQ(s.makespan.since_start(), us(7));
  EXPECT_EQ(s.resource_busy[0], us(7));
}

TEST(TaskGraph, IndependentResourcesRunInParallel) {
  TaskGraph g(2);
  g.add_task(us(5), 0);
  g.add_task(us(8), 1);
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(g, s);
  EXPECT_EQ(s.makespan.since_start(), us(8));
}

TEST(TaskGraph, OneResourceSerializesReadyTasksInIdOrder) {
  TaskGraph g(1);
  const TaskId a = g.add_task(us(2), 0);
  const TaskId b = g.add_task(us(2), 0);
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(g, s);
  EXPECT_EQ(start_us(s, a), 0);
  EXPECT_EQ(start_us(s, b), 2);
}

TEST(TaskGraph, HigherPriorityGoesFirstAmongTasksReadyTogether) {
  TaskGraph g(2);
  const TaskId gate = g.add_task(us(1), 0);
  const TaskId low = g.add_task(us(10), 1, /*priority=*/1);
  const TaskId high = g.add_task(us(10), 1, /*priority=*/2);
  g.add_dependency(gate, low);
  g.add_dependency(gate, high);
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(g, s);
  EXPECT_EQ(start_us(s, high), 1);
  EXPECT_EQ(start_us(s, low), 11);
}

TEST(TaskGraph, CollectiveStartsWhenEveryParticipantIsReady) {
  // Two GPUs: compute streams 0, 1; comm streams 2, 3. The collective waits for the slower GPU.
  TaskGraph g(4);
  const TaskId fast = g.add_task(us(2), 0);
  const TaskId slow = g.add_task(us(9), 1);
  const std::array<ResourceId, 2> comm{2, 3};
  const TaskId all_to_all = g.add_task(us(4), comm);
  g.add_dependency(fast, all_to_all);
  g.add_dependency(slow, all_to_all);
  const TaskId after = g.add_task(us(1), 0);
  g.add_dependency(all_to_all, after);
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(g, s);
  EXPECT_EQ(start_us(s, all_to_all), 9);
  EXPECT_EQ(end_us(s, after), 14);
  EXPECT_EQ(s.resource_busy[2], us(4));
  EXPECT_EQ(s.resource_busy[3], us(4));
}

TEST(TaskGraph, CollectiveRechecksAStreamWhereAnotherTaskWentAheadOfIt) {
  // The collective is first in line on stream 0 and waits for stream 1. A higher-priority task,
  // ready at the same instant (after a zero-time task), goes ahead of it on stream 0 and holds it
  // until 10 us: the collective must not start when stream 1 frees at 5 us.
  TaskGraph g(2);
  g.add_task(us(5), 1);
  const std::array<ResourceId, 2> both{0, 1};
  const TaskId collective = g.add_task(us(4), both);
  const TaskId instant = g.add_task(us(0), std::span<const ResourceId>());
  const TaskId urgent = g.add_task(us(10), 0, /*priority=*/1);
  g.add_dependency(instant, urgent);
  const Schedule s = executed(g);
  EXPECT_EQ(start_us(s, urgent), 0);
  EXPECT_EQ(start_us(s, collective), 10);
}

TEST(TaskGraph, OverlappingCollectivesOnSharedStreamsDoNotDeadlock) {
  // A on streams {0,1}, B on {1,2}, C on {2,0}: a cycle of shared resources, all ready at once.
  TaskGraph g(3);
  const std::array<ResourceId, 2> ab{0, 1}, bc{1, 2}, ca{2, 0};
  const TaskId a = g.add_task(us(1), ab);
  const TaskId b = g.add_task(us(1), bc);
  const TaskId c = g.add_task(us(1), ca);
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(g, s);
  EXPECT_EQ(start_us(s, a), 0);
  EXPECT_EQ(start_us(s, b), 1);
  EXPECT_EQ(start_us(s, c), 2);
}

TEST(TaskGraph, ResourceFreeTasksOnlyWaitForInputs) {
  TaskGraph g(1);
  const TaskId a = g.add_task(us(5), 0);
  const TaskId sync = g.add_task(us(2), std::span<const ResourceId>());
  g.add_dependency(a, sync);
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(g, s);
  EXPECT_EQ(end_us(s, sync), 7);
}

TEST(TaskGraph, SameGraphGivesSameScheduleAndExecutorIsReusable) {
  TaskGraph g(3);
  std::vector<TaskId> ids;
  for (int i = 0; i < 200; ++i) {
    const std::array<ResourceId, 2> pair{static_cast<ResourceId>(i % 3), static_cast<ResourceId>((i + 1) % 3)};
    ids.push_back(i % 4 == 0 ? g.add_task(us(i % 7 + 1), pair, i % 2) : g.add_task(us(i % 5 + 1), i % 3));
    if (i >= 3) g.add_dependency(ids[i - 3], ids[i]);
  }
  TaskGraphExecutor ex;
  Schedule first, second;
  ex.execute(g, first);
  ex.execute(g, second);
  ASSERT_EQ(first.tasks.size(), second.tasks.size());
  for (size_t i = 0; i < first.tasks.size(); ++i) {
    EXPECT_EQ(first.tasks[i].start, second.tasks[i].start);
    EXPECT_EQ(first.tasks[i].end, second.tasks[i].end);
  }
  // Dependencies and exclusivity hold.
  for (const auto& [before, after] : g.edges()) EXPECT_LE(first.tasks[before].end, first.tasks[after].start);
  for (TaskId x = 0; x < g.task_count(); ++x) {
    for (TaskId y = x + 1; y < g.task_count(); ++y) {
      bool shared = false;
      for (auto rx : g.resources(x))
        for (auto ry : g.resources(y)) shared |= rx == ry;
      if (shared) {
        EXPECT_TRUE(first.tasks[x].end <= first.tasks[y].start || first.tasks[y].end <= first.tasks[x].start);
      }
    }
  }
}

// Processor sharing of one pipe of 1 unit of work per microsecond: the simplest fluid model.
class SharedPipe : public SharedCapacity {
 public:
  explicit SharedPipe(std::vector<double> work) : work_(std::move(work)) {}
  void start(TaskId t, SimTime now) override {
    advance(now);
    running_.push_back({t, work_[t]});
  }
  std::optional<SimTime> next_finish() const override {
    if (running_.empty()) return std::nullopt;
    double least = running_.front().second;
    for (const auto& r : running_) least = std::min(least, r.second);
    return now_ + Microseconds(static_cast<int64_t>(least * static_cast<double>(running_.size()) + 0.5));
  }
  std::optional<TaskId> finish(SimTime now) override {
    advance(now);
    auto first = std::min_element(running_.begin(), running_.end(), [](auto& a, auto& b) { return a.second < b.second; });
    const TaskId t = first->first;
    running_.erase(first);
    return t;
  }

 private:
  void advance(SimTime now) {
    const double done = (now - now_).seconds() * 1e6 / static_cast<double>(std::max<size_t>(1, running_.size()));
    for (auto& r : running_) r.second -= done;
    now_ = now;
  }
  std::vector<double> work_;
  std::vector<std::pair<TaskId, double>> running_;
  SimTime now_ = SimTime::Zero();
};

// A small graph as a list of what to add, so that one description can be built afresh or rebuilt.
struct Described {
  uint32_t resources = 3;
  struct Task {
    int64_t duration_us;
    std::vector<ResourceId> uses;
    int32_t priority;
    uint32_t tag;
    bool shared;
  };
  std::vector<Task> tasks = {{1, {0}, 0, 7, false}, {2, {0, 1}, 2, 8, false}, {3, {2}, 0, 9, true}, {4, {}, 1, 10, false}};
  std::vector<std::pair<TaskId, TaskId>> edges = {{0, 1}, {1, 2}, {0, 3}};

  void add_to(TaskGraph& g) const {
    size_t next_edge = 0;
    for (size_t t = 0; t < tasks.size(); ++t) {
      const Task& task = tasks[t];
      if (task.shared)
        g.add_shared_task(us(task.duration_us), task.uses, task.priority, task.tag);
      else
        g.add_task(us(task.duration_us), task.uses, task.priority, task.tag);
      for (; next_edge < edges.size() && edges[next_edge].second == t; ++next_edge)
        g.add_dependency(edges[next_edge].first, static_cast<TaskId>(t));
    }
  }
  TaskGraph fresh() const {
    TaskGraph g(resources);
    add_to(g);
    return g;
  }
};

void expect_same_graph(const TaskGraph& a, const TaskGraph& b) {
  ASSERT_EQ(a.task_count(), b.task_count());
  EXPECT_EQ(a.resource_count(), b.resource_count());
  for (TaskId t = 0; t < a.task_count(); ++t) {
    EXPECT_EQ(a.duration(t), b.duration(t)) << "task " << t;
    EXPECT_EQ(a.shared(t), b.shared(t)) << "task " << t;
    EXPECT_EQ(a.priority(t), b.priority(t)) << "task " << t;
    EXPECT_EQ(a.tag(t), b.tag(t)) << "task " << t;
    EXPECT_TRUE(std::ranges::equal(a.resources(t), b.resources(t))) << "task " << t;
  }
  EXPECT_TRUE(std::ranges::equal(a.edges(), b.edges()));
}

TEST(TaskGraph, ARebuildThatRepeatsTheGraphKeepsItsShapeAndTakesTheNewDurations) {
  Described d;
  TaskGraph g = d.fresh();
  const uint64_t shape = g.shape();
  EXPECT_NE(shape, 0u);
  for (auto& task : d.tasks) task.duration_us += 10;
  g.rebuild(d.resources);
  d.add_to(g);
  EXPECT_EQ(g.shape(), shape);
  expect_same_graph(g, d.fresh());
  EXPECT_NE(d.fresh().shape(), shape);  // another graph built alike has a shape of its own
}

TEST(TaskGraph, ARebuildThatDiffersIsTheGraphBuiltAfreshWithANewShape) {
  const Described base;
  std::vector<std::pair<std::string, Described>> variants;
  auto variant = [&](const std::string& name, auto change) {
    Described d = base;
    change(d);
    variants.emplace_back(name, d);
  };
  variant("a resource", [](Described& d) { d.tasks[1].uses = {0, 2}; });
  variant("a resource fewer", [](Described& d) { d.tasks[1].uses = {0}; });
  variant("a priority", [](Described& d) { d.tasks[2].priority = 1; });
  variant("a tag", [](Described& d) { d.tasks[3].tag = 11; });
  variant("shared", [](Described& d) { d.tasks[0].shared = true; });
  variant("a dependency", [](Described& d) { d.edges[1] = {0, 2}; });
  variant("a dependency more", [](Described& d) { d.edges.emplace_back(2, 3); });
  variant("a dependency fewer", [](Described& d) { d.edges.pop_back(); });
  variant("a task more", [](Described& d) { d.tasks.push_back({5, {1}, 0, 12, false}); });
  variant("a task fewer", [](Described& d) {
    d.tasks.pop_back();
    d.edges.pop_back();
  });
  variant("the resource count", [](Described& d) { d.resources = 4; });
  for (const auto& [name, d] : variants) {
    SCOPED_TRACE(name);
    TaskGraph g = base.fresh();
    const uint64_t old_shape = g.shape();
    g.rebuild(d.resources);
    d.add_to(g);
    expect_same_graph(g, d.fresh());
    // Where the rebuild repeated all it was given, the shape is unknown (0) until the next one.
    const uint64_t shape = g.shape();
    EXPECT_NE(shape, old_shape);
    g.rebuild(d.resources);
    d.add_to(g);
    expect_same_graph(g, d.fresh());
    EXPECT_NE(g.shape(), 0u);
    EXPECT_NE(g.shape(), old_shape);
    if (shape != 0) {
      EXPECT_EQ(g.shape(), shape);
    }
  }
}

TEST(TaskGraph, AMovedFromGraphIsEmptyAndCanBeBuiltAgain) {
  const Described d;
  TaskGraph g = d.fresh();
  const uint64_t shape = g.shape();
  const TaskGraph h = std::move(g);
  expect_same_graph(h, d.fresh());
  EXPECT_EQ(h.shape(), shape);
  EXPECT_EQ(g.task_count(), 0u);  // NOLINT(bugprone-use-after-move): what a move leaves is the point
  EXPECT_TRUE(g.edges().empty());
  d.add_to(g);
  expect_same_graph(g, d.fresh());
  EXPECT_NE(g.shape(), shape);
}

TEST(TaskGraph, SharedTasksSplitTheCapacityAndThenRunTheirTail) {
  TaskGraph g(3);
  const TaskId a = g.add_shared_task(us(1), std::array<ResourceId, 1>{0});
  const TaskId b = g.add_shared_task(us(0), std::array<ResourceId, 1>{1});
  const TaskId before_c = g.add_task(us(2), 2);
  const TaskId c = g.add_shared_task(us(0), std::array<ResourceId, 1>{2});
  g.add_dependency(before_c, c);
  const TaskId after_a = g.add_task(us(1), 0);
  g.add_dependency(a, after_a);
  // a: 4 units, b: 6, c: 1 from t=2. Until 2, a and b share (1 done each); then three share: c
  // done at 5 (a: 2 left, b: 4 left); then two share: a done at 9 and its tail ends at 10; b has 2
  // left at 9 and runs alone to 11.
  SharedPipe pipe({4, 6, 0, 1, 0});
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(g, s, &pipe);
  EXPECT_EQ(end_us(s, c), 5);
  EXPECT_EQ(end_us(s, a), 10);
  EXPECT_EQ(end_us(s, b), 11);
  EXPECT_EQ(start_us(s, after_a), 10);
  EXPECT_EQ(s.resource_busy[0], us(11));  // a from 0 to 10, then after_a
  EXPECT_EQ(s.resource_busy[2], us(5));   // before_c, then c from 2 to 5
  EXPECT_EQ(s.makespan.since_start(), us(11));
}

}  // namespace
}  // namespace moesim::engine
