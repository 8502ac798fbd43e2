// The executor's second way to time a graph: in the order its tasks started the time before
// (task_graph.h). Whenever it keeps that order, the schedule must be the events' own.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <vector>

#include "sim/engine/task_graph.h"
#include "tests/engine/random_graphs.h"

namespace moesim::engine {
namespace {

int64_t start_us(const Schedule& s, TaskId t) { return s.tasks[t].start.since_start().picoseconds() / 1'000'000; }

Schedule by_events(const TaskGraph& g) {
  Schedule s;
  TaskGraphExecutor fresh;  // nothing kept from an earlier run: it runs the events
  fresh.execute(g, s);
  EXPECT_FALSE(fresh.retimed());
  return s;
}

// Two tasks on one stream, each behind a gate on a stream of its own.
TaskGraph gated_pair(int64_t first_gate_us, int64_t second_gate_us) {
  TaskGraph g(3);
  const TaskId gate_x = g.add_task(us(first_gate_us), 1);
  const TaskId gate_y = g.add_task(us(second_gate_us), 2);
  const TaskId x = g.add_task(us(4), 0);
  const TaskId y = g.add_task(us(4), 0);
  g.add_dependency(gate_x, x);
  g.add_dependency(gate_y, y);
  return g;
}

TEST(TaskGraphRetime, NewDurationsInTheSameOrderSkipTheEvents) {
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(gated_pair(1, 2), s);
  EXPECT_FALSE(ex.retimed());
  const TaskGraph slower = gated_pair(2, 9);
  ex.execute(slower, s);
  EXPECT_TRUE(ex.retimed());
  EXPECT_EQ(start_us(s, 2), 2);  // x after its gate
  EXPECT_EQ(start_us(s, 3), 9);  // y after its own
  expect_same(s, by_events(slower));
}

TEST(TaskGraphRetime, AStreamWhoseOrderInLineChangedRunsTheEvents) {
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(gated_pair(1, 2), s);
  const TaskGraph swapped = gated_pair(3, 2);  // y is now ready before x
  ex.execute(swapped, s);
  EXPECT_FALSE(ex.retimed());
  EXPECT_EQ(start_us(s, 3), 2);
  EXPECT_EQ(start_us(s, 2), 6);
  expect_same(s, by_events(swapped));
  ex.execute(swapped, s);  // the order just run is kept
  EXPECT_TRUE(ex.retimed());
}

TEST(TaskGraphRetime, ATaskOfZeroTimeRunsTheEvents) {
  // A task of zero time ends at the instant it starts, after that instant's other tasks may have
  // started: its successor can find a task behind it in line already running.
  TaskGraph g(2);
  const TaskId zero = g.add_task(Duration(), 1);
  const TaskId behind = g.add_task(us(5), 0, /*priority=*/0);
  const TaskId ahead = g.add_task(us(5), 0, /*priority=*/1);
  g.add_dependency(zero, ahead);
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(g, s);
  ex.execute(g, s);
  EXPECT_FALSE(ex.retimed());
  EXPECT_EQ(start_us(s, behind), 0);
  EXPECT_EQ(start_us(s, ahead), 5);
}

// `urgent` (higher priority) waits for a task of zero time behind a gate; `plain` for a gate of
// 2 µs; both then take stream 0.
TaskGraph zero_time_race(int64_t urgent_gate_us) {
  TaskGraph g(3);
  const TaskId gate = g.add_task(us(urgent_gate_us), 1);
  const TaskId zero = g.add_task(Duration(), 1);
  const TaskId plain_gate = g.add_task(us(2), 2);
  const TaskId plain = g.add_task(us(3), 0, /*priority=*/0);
  const TaskId urgent = g.add_task(us(3), 0, /*priority=*/1);
  g.add_dependency(gate, zero);
  g.add_dependency(zero, urgent);
  g.add_dependency(plain_gate, plain);
  return g;
}

TEST(TaskGraphRetime, ATaskMadeReadyByAZeroTimeTaskComesAfterOneThatStartedAtThatInstant) {
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(zero_time_race(1), s);  // urgent ready at 1, then plain at 2
  ex.execute(zero_time_race(1), s);
  EXPECT_TRUE(ex.retimed());  // a task of zero time alone does not stop the re-timing
  // Both ready at 2: in line, urgent first, but it becomes ready only once the task of zero time
  // has ended, after plain started at 2.
  const TaskGraph race = zero_time_race(2);
  ex.execute(race, s);
  EXPECT_FALSE(ex.retimed());
  EXPECT_EQ(start_us(s, 3), 2);
  EXPECT_EQ(start_us(s, 4), 5);
  expect_same(s, by_events(race));
}

TEST(TaskGraphRetime, AGraphOfAnotherSizeRunsTheEvents) {
  TaskGraphExecutor ex;
  Schedule s;
  ex.execute(gated_pair(1, 2), s);
  TaskGraph bigger = gated_pair(1, 2);
  bigger.add_task(us(1), 0);
  ex.execute(bigger, s);
  EXPECT_FALSE(ex.retimed());
  expect_same(s, by_events(bigger));
}

TEST(TaskGraphRetime, WhereverTheKeptOrderIsUsedTheScheduleIsTheEventsOwn) {
  RandomGraphs random;
  int retimed = 0, runs = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const auto shape = random.shape();
    std::vector<int64_t> durations;
    for (size_t t = 0; t < shape.uses.size(); ++t) durations.push_back(random.duration());
    TaskGraphExecutor ex;
    Schedule s;
    ex.execute(RandomGraphs::build(shape, durations), s);
    for (int again = 0; again < 3; ++again) {
      for (auto& d : durations)
        if (random.pick(4) == 0) d = random.duration();
      const TaskGraph g = RandomGraphs::build(shape, durations);
      ex.execute(g, s);
      retimed += ex.retimed();
      ++runs;
      expect_same(s, by_events(g));
      if (HasFailure()) FAIL() << "trial " << trial << ", run " << again;
    }
  }
  // Both ways are exercised: most orders survive a few changed durations, many do not.
  EXPECT_GT(retimed, runs / 6);
  EXPECT_LT(retimed, runs * 9 / 10);
}

// One graph rebuilt step after step, mostly with the same shape and new durations, now and then
// with another shape: the executor keeps successor lists and the order's topological check per
// shape, and must drop both when the shape changes.
TEST(TaskGraphRetime, ARebuiltGraphIsTimedAsAFreshOne) {
  RandomGraphs random;
  int retimed = 0, runs = 0, changed = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    auto shape = random.shape();
    std::vector<int64_t> durations;
    for (size_t t = 0; t < shape.uses.size(); ++t) durations.push_back(random.duration());
    TaskGraph g;
    TaskGraphExecutor ex;
    Schedule s;
    for (int again = 0; again < 8; ++again) {
      const uint64_t before = g.shape();
      const bool change = again > 0 && random.pick(3) == 0;
      if (change) random.change(shape);
      durations.resize(shape.uses.size(), 1);
      for (auto& d : durations)
        if (random.pick(4) == 0) d = random.duration();
      RandomGraphs::rebuild(shape, durations, g);
      // (A build that repeated only the start of the one before has no known shape: 0.)
      if (again > 0 && !change && before != 0) {
        EXPECT_EQ(g.shape(), before);
      }
      changed += g.shape() != before;
      ex.execute(g, s);
      retimed += ex.retimed();
      ++runs;
      expect_same(s, by_events(RandomGraphs::build(shape, durations)));
      if (HasFailure()) FAIL() << "trial " << trial << ", run " << again;
    }
  }
  EXPECT_GT(retimed, runs / 6);
  EXPECT_GT(changed, runs / 6);
}

}  // namespace
}  // namespace moesim::engine
