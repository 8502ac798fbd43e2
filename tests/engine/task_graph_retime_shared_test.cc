// A graph with shared tasks timed in the order its tasks started the time before (task_graph.h:
// retime_shared): whenever the executor keeps that order, the schedule must be the events' own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "sim/engine/task_graph.h"
#include "tests/engine/random_graphs.h"

namespace moesim::engine {
namespace {

// Shared work on a few links: a running task progresses at one over the most tasks running on any
// of its links, its progress kept in doubles and its end rounded up to the picosecond, as a fluid
// network model does. Ties end the lower id first.
class Links final : public SharedCapacity {
 public:
  void add(TaskId t, int64_t work_ps, std::vector<int> links) {
    if (tasks_.size() <= t) tasks_.resize(t + 1);
    tasks_[t] = {static_cast<double>(work_ps), 0, 1, std::move(links), false};
  }
  void start(TaskId t, SimTime now) override {
    advance(now);
    tasks_[t].left = tasks_[t].work;
    tasks_[t].running = true;
    rerate();
  }
  std::optional<SimTime> next_finish() const override {
    const auto t = next();
    return t ? std::optional<SimTime>(end_of(*t)) : std::nullopt;
  }
  std::optional<TaskId> finish(SimTime now) override {
    advance(now);
    const auto t = next();
    tasks_[*t].running = false;
    rerate();
    return t;
  }
  bool rewind() override {
    for (auto& task : tasks_) task.running = false;
    now_ = SimTime::Zero();
    return true;
  }

 private:
  struct Task {
    double work, left, rate;
    std::vector<int> links;
    bool running;
  };
  SimTime end_of(TaskId t) const {
    return now_ + Duration::FromPicoseconds(static_cast<int64_t>(std::ceil(tasks_[t].left / tasks_[t].rate)));
  }
  std::optional<TaskId> next() const {
    std::optional<TaskId> best;
    for (TaskId t = 0; t < tasks_.size(); ++t) {
      if (tasks_[t].running && (!best || end_of(t) < end_of(*best))) best = t;
    }
    return best;
  }
  void advance(SimTime now) {
    const auto elapsed = static_cast<double>((now - now_).picoseconds());
    for (auto& task : tasks_) {
      if (task.running) task.left = std::max(0.0, task.left - task.rate * elapsed);
    }
    now_ = now;
  }
  void rerate() {
    std::vector<int> on(8, 0);
    for (const auto& task : tasks_) {
      if (!task.running) continue;
      for (int l : task.links) ++on[l];
    }
    for (auto& task : tasks_) {
      int most = 1;
      for (int l : task.links) most = std::max(most, on[l]);
      task.rate = 1.0 / most;
    }
  }

  std::vector<Task> tasks_;
  SimTime now_ = SimTime::Zero();
};

struct Sharing {
  std::vector<int64_t> work_ps;
  std::vector<std::vector<int>> links;
};

Links capacity(const Sharing& sharing, const RandomGraphs::Shape& shape) {
  Links links;
  for (TaskId t = 0; t < shape.uses.size(); ++t) {
    if (shape.shared[t]) links.add(t, sharing.work_ps[t], sharing.links[t]);
  }
  return links;
}

// Shared work of 0 to 4 us (none: it is done the instant it starts, after that instant's starts).
int64_t work_ps(RandomGraphs& random) { return 1'000'000 * random.pick(5); }

// Task t's part in the sharing: a third of the tasks that take a stream share one or two of three
// links; a shared task's duration (its tail) is 0 or 1 us.
void share(RandomGraphs& random, RandomGraphs::Shape& shape, Sharing& sharing, std::vector<int64_t>& durations, size_t t) {
  shape.shared.resize(shape.uses.size());
  sharing.links.resize(shape.uses.size());
  sharing.work_ps.resize(shape.uses.size());
  durations.resize(shape.uses.size());
  shape.shared[t] = !shape.uses[t].empty() && random.pick(3) == 0;
  sharing.links[t] = {random.pick(3)};
  if (random.pick(2) == 0) sharing.links[t].push_back(random.pick(3));
  sharing.work_ps[t] = work_ps(random);
  durations[t] = shape.shared[t] ? random.pick(2) : random.duration();
}

// G and H gate W; G gates Z, shared work, and Z gates S, which goes before W on stream 2 by
// priority. The first time, W is held back by H, and S goes first on stream 2. The second time, W
// is ready when G ends, as is Z, whose work (none) is done at that instant after its starts: S is
// made ready late, and W, started then, goes first.
TEST(TaskGraphRetimeShared, ATaskMadeReadyBySharedWorkDoneAtTheInstantItStartedComesAfterOneThatStartedThen) {
  const auto build = [](int64_t h_us) {
    TaskGraph g(4);
    const TaskId gate = g.add_task(us(2), 0);
    const TaskId hold = g.add_task(us(h_us), 3);
    const TaskId z = g.add_shared_task(Duration(), std::vector<ResourceId>{1});
    const TaskId w = g.add_task(us(1), 2, 0);
    const TaskId s = g.add_task(us(1), 2, 1);
    g.add_dependency(gate, z);
    g.add_dependency(gate, w);
    g.add_dependency(hold, w);
    g.add_dependency(z, s);
    return g;
  };
  const auto run = [](TaskGraphExecutor& ex, const TaskGraph& g, int64_t z_work_ps) {
    Links links;
    links.add(2, z_work_ps, {0});
    Schedule s;
    ex.execute(g, s, &links);
    return s;
  };
  TaskGraphExecutor ex;
  const Schedule first = run(ex, build(5), 1'000'000);
  EXPECT_LT(first.tasks[4].start, first.tasks[3].start);  // S before W
  const TaskGraph again = build(2);
  const Schedule second = run(ex, again, 0);
  TaskGraphExecutor fresh;
  expect_same(second, run(fresh, again, 0));
  EXPECT_EQ(second.tasks[3].start.since_start(), us(2));  // W when G ends
  EXPECT_EQ(second.tasks[4].start.since_start(), us(3));  // S after it
}

TEST(TaskGraphRetimeShared, WhereverTheKeptOrderIsUsedTheScheduleIsTheEventsOwn) {
  RandomGraphs random;
  int retimed = 0, runs = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    auto shape = random.shape();
    Sharing sharing;
    std::vector<int64_t> durations;
    for (size_t t = 0; t < shape.uses.size(); ++t) share(random, shape, sharing, durations, t);
    TaskGraphExecutor ex;
    Schedule s;
    Links first = capacity(sharing, shape);
    ex.execute(RandomGraphs::build(shape, durations), s, &first);
    for (int again = 0; again < 3; ++again) {
      // Now and then another shape (task_graph.h: the kept order may then not be the events').
      if (random.pick(4) == 0) {
        random.change(shape);
        const size_t tasks = std::min(shape.uses.size(), shape.shared.size());
        shape.shared.resize(tasks);
        durations.resize(tasks);
        for (size_t t = 0; t < shape.uses.size(); ++t) {
          if (t >= shape.shared.size() || (shape.shared[t] && shape.uses[t].empty())) share(random, shape, sharing, durations, t);
        }
      }
      for (size_t t = 0; t < durations.size(); ++t) {
        if (random.pick(4) != 0) continue;
        if (shape.shared[t]) {
          sharing.work_ps[t] = work_ps(random);
        } else {
          durations[t] = random.duration();
        }
      }
      const TaskGraph g = RandomGraphs::build(shape, durations);
      Links links = capacity(sharing, shape);
      ex.execute(g, s, &links);
      retimed += ex.retimed();
      ++runs;
      Schedule events;
      TaskGraphExecutor fresh;
      Links fresh_links = capacity(sharing, shape);
      fresh.execute(g, events, &fresh_links);
      EXPECT_FALSE(fresh.retimed());
      expect_same(s, events);
      if (HasFailure()) FAIL() << "trial " << trial << ", run " << again;
    }
  }
  // Both ways are exercised: most orders survive a few changed durations, many do not.
  EXPECT_GT(retimed, runs / 6);
  EXPECT_LT(retimed, runs * 9 / 10);
}

}  // namespace
}  // namespace moesim::engine
