// Collectives sharing their GPUs' NICs under the analytic model (sim/network/nic_sharing.h): hand-
// computed shares, then a step whose weight gathers cross nodes beside its all-to-alls.
#include "sim/network/nic_sharing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

using engine::ResourceId;
using engine::TaskId;
using network::NicSharing;

Duration us(double v) { return Duration::FromSeconds(v * 1e-6); }

struct Collective {
  double alone_us, nic_busy_us;
  std::vector<uint32_t> nics;
  double after_us = 0;  // held back this long by a task before it on its stream
};

// Each collective on a stream of its own; returns when each ended.
std::vector<Duration> run(const std::vector<Collective>& collectives) {
  NicSharing nics;
  engine::TaskGraph graph(static_cast<uint32_t>(collectives.size()));
  std::vector<TaskId> ids;
  for (size_t i = 0; i < collectives.size(); ++i) {
    const auto stream = static_cast<ResourceId>(i);
    const Collective& c = collectives[i];
    const TaskId before = c.after_us > 0 ? graph.add_task(us(c.after_us), stream) : 0;
    const TaskId t = graph.add_shared_task(Duration(), std::vector<ResourceId>{stream});
    if (c.after_us > 0) graph.add_dependency(before, t);
    ids.push_back(t);
  }
  for (size_t i = 0; i < collectives.size(); ++i)
    nics.add(ids[i], us(collectives[i].alone_us), us(collectives[i].nic_busy_us), collectives[i].nics);
  engine::TaskGraphExecutor executor;
  engine::Schedule schedule;
  executor.execute(graph, schedule, &nics);
  std::vector<Duration> ends;
  for (TaskId t : ids) ends.push_back(schedule.tasks[t].end.since_start());
  return ends;
}

TEST(NicSharing, ACollectiveAloneOnItsNicsTakesItsAnalyticTimeToThePicosecond) {
  const Duration alone = Duration::FromPicoseconds(12'345'678);
  NicSharing nics;
  engine::TaskGraph graph(2);
  const TaskId a = graph.add_shared_task(Duration(), std::vector<ResourceId>{0});
  const TaskId b = graph.add_shared_task(Duration(), std::vector<ResourceId>{1});
  nics.add(a, alone, Duration::FromPicoseconds(4'115'226), std::vector<uint32_t>{0, 1});
  nics.add(b, alone * 2, alone, std::vector<uint32_t>{2});  // another GPU's NIC
  engine::TaskGraphExecutor executor;
  engine::Schedule schedule;
  executor.execute(graph, schedule, &nics);
  EXPECT_EQ(schedule.tasks[a].end.since_start(), alone);
  EXPECT_EQ(schedule.tasks[b].end.since_start(), alone * 2);
}

TEST(NicSharing, TwoCollectivesThatFillANicHalveItsRateAndTheLastEndsWhenBothWouldInTurn) {
  // Both keep the NIC busy throughout when alone (10 us each): together each gets half.
  const auto ends = run({{10, 10, {0}}, {10, 10, {0}}});
  EXPECT_NEAR(ends[0].seconds() * 1e6, 20, 1e-6);
  EXPECT_NEAR(ends[1].seconds() * 1e6, 20, 1e-6);
}

TEST(NicSharing, ANicNamedTwiceByOneCollectiveIsSharedOnce) {
  // Alone, a collective that names its NIC twice takes its own time, not twice it; beside another
  // on that NIC, the two share it in halves.
  EXPECT_NEAR(run({{10, 10, {0, 0}}})[0].seconds() * 1e6, 10, 1e-6);
  const auto ends = run({{10, 10, {0, 0}}, {10, 10, {0}}});
  EXPECT_NEAR(ends[0].seconds() * 1e6, 20, 1e-6);
  EXPECT_NEAR(ends[1].seconds() * 1e6, 20, 1e-6);
}

TEST(NicSharing, ACollectiveThatUsesHalfTheNicKeepsItsTimeAndTheOtherTakesTheRest) {
  // The second uses half of the NIC's line rate alone (5 of its 10 us): max-min gives each half, so
  // the second runs as alone and ends at 10 us; the first has done 5 us of its 10 by then, and ends
  // 5 us later at the full rate.
  const auto ends = run({{10, 10, {0}}, {10, 5, {0}}});
  EXPECT_NEAR(ends[1].seconds() * 1e6, 10, 1e-6);
  EXPECT_NEAR(ends[0].seconds() * 1e6, 15, 1e-6);
}

TEST(NicSharing, ACollectiveThatStartsLaterSlowsTheOneRunningFromThen) {
  // The first runs alone for 4 us (6 left), then both at half: the first ends at 4 + 12 = 16 us,
  // having left the second 4 us of its 10, which it runs at the full rate: 20 us.
  const auto ends = run({{10, 10, {0}}, {10, 10, {0}, 4}});
  EXPECT_NEAR(ends[0].seconds() * 1e6, 16, 1e-6);
  EXPECT_NEAR(ends[1].seconds() * 1e6, 20, 1e-6);
}

TEST(NicSharing, RatesThatChangeAsOthersStartAndEndAddUpToEachOnesWorkAndOneElsewhereKeepsItsTime) {
  // On NIC 0: A alone for 2 us (8 left), with B at halves until 4 us (A 7, B 9 left), then with C at
  // thirds: A ends 21 us later, at 25, B and C having done 7 each (2 and 3 left); B and C at halves,
  // B ends at 29 with C 1 us short, which C runs alone: 30. D, on NIC 1 throughout, is timed apart
  // from all of it and ends at its own time to the picosecond.
  const auto ends = run({{10, 10, {0}}, {10, 10, {0}, 2}, {10, 10, {0}, 4}, {7, 7, {1}}});
  EXPECT_NEAR(ends[0].seconds() * 1e6, 25, 1e-6);
  EXPECT_NEAR(ends[1].seconds() * 1e6, 29, 1e-6);
  EXPECT_NEAR(ends[2].seconds() * 1e6, 30, 1e-6);
  EXPECT_EQ(ends[3], us(7));
}

TEST(NicSharing, ACollectiveOverTwoGpusTakesTheLeastOfItsNicsShares) {
  // A crosses NICs 0 and 1; B shares NIC 0 and C NIC 1, where it takes a quarter alone. Progressive
  // filling: C freezes at its quarter; then NIC 0 fills with A and B at a half each (NIC 1 would
  // give A three quarters). A and B run at half speed, C as alone.
  NicSharing nics;
  engine::TaskGraph graph(3);
  const TaskId a = graph.add_shared_task(Duration(), std::vector<ResourceId>{0});
  const TaskId b = graph.add_shared_task(Duration(), std::vector<ResourceId>{1});
  const TaskId c = graph.add_shared_task(Duration(), std::vector<ResourceId>{2});
  nics.add(a, us(10), us(10), std::vector<uint32_t>{0, 1});
  nics.add(b, us(10), us(10), std::vector<uint32_t>{0});
  nics.add(c, us(40), us(10), std::vector<uint32_t>{1});
  const SimTime zero = SimTime::Zero();
  nics.start(a, zero);
  nics.start(b, zero);
  nics.start(c, zero);
  EXPECT_DOUBLE_EQ(nics.rate(a), 0.5);
  EXPECT_DOUBLE_EQ(nics.rate(b), 0.5);
  EXPECT_DOUBLE_EQ(nics.rate(c), 1.0);
  // A and B end together at 20 us; C, alone again, at 40.
  ASSERT_EQ(nics.next_finish(), zero + us(20));
  nics.finish(zero + us(20));
  nics.finish(zero + us(20));
  EXPECT_DOUBLE_EQ(nics.rate(c), 1.0);
  EXPECT_EQ(nics.next_finish(), zero + us(40));
}

TEST(NicSharing, RewoundItForgetsWhatRanAndTimesWhatStartsAgainAsNew) {
  NicSharing nics;
  nics.add(0, us(10), us(10), std::vector<uint32_t>{0});
  nics.add(1, us(10), us(10), std::vector<uint32_t>{0});
  const SimTime zero = SimTime::Zero();
  nics.start(0, zero);
  nics.start(1, zero + us(2));
  ASSERT_DOUBLE_EQ(nics.rate(0), 0.5);
  ASSERT_TRUE(nics.rewind());
  EXPECT_FALSE(nics.next_finish().has_value());
  EXPECT_EQ(nics.rate(0), 0);
  // Alone again, from time zero: its own time to the picosecond; then both at halves.
  nics.start(1, zero);
  EXPECT_EQ(nics.next_finish(), zero + us(10));
  nics.start(0, zero + us(4));
  EXPECT_DOUBLE_EQ(nics.rate(1), 0.5);
  EXPECT_EQ(nics.next_finish(), zero + us(16));
}

// Two GPUs: compute streams 0 and 1, communication streams 2 and 3, data-parallel streams 4 and 5.
// A collective over both NICs after both computes; one on each GPU's NIC alone after its compute
// (GPU 0's 100 us long); a task on stream 0 after each of the first two. Run again with other times, the executor times the
// graph in the first run's order, its NIC sharing rewound and handed the collectives in time
// order, or, where that order no longer holds, rewinds it again and runs the events; either way
// it must agree with the events to the picosecond.
engine::Schedule two_gpus(engine::TaskGraphExecutor& ex, double compute0_us, double compute1_us, double one_us) {
  engine::TaskGraph graph(6);
  const TaskId c0 = graph.add_task(us(compute0_us), 0);
  const TaskId c1 = graph.add_task(us(compute1_us), 1);
  const TaskId both = graph.add_shared_task(Duration(), std::vector<ResourceId>{2, 3});
  const TaskId one = graph.add_shared_task(Duration(), std::vector<ResourceId>{4});
  const TaskId long_one = graph.add_shared_task(Duration(), std::vector<ResourceId>{5});
  const TaskId after_both = graph.add_task(us(1), 0);
  const TaskId after_one = graph.add_task(us(1), 0);
  graph.add_dependency(c0, both);
  graph.add_dependency(c1, both);
  graph.add_dependency(c1, one);
  graph.add_dependency(both, after_both);
  graph.add_dependency(one, after_one);
  graph.add_dependency(c0, long_one);
  NicSharing nics;
  nics.add(both, us(10), us(10), std::vector<uint32_t>{0, 1});
  nics.add(one, us(one_us), us(one_us), std::vector<uint32_t>{1});
  nics.add(long_one, us(100), us(100), std::vector<uint32_t>{0});
  engine::Schedule schedule;
  ex.execute(graph, schedule, &nics);
  return schedule;
}

void expect_events(const engine::Schedule& s, double compute0_us, double compute1_us, double one_us) {
  engine::TaskGraphExecutor fresh;
  const engine::Schedule events = two_gpus(fresh, compute0_us, compute1_us, one_us);
  EXPECT_FALSE(fresh.retimed());
  for (size_t t = 0; t < events.tasks.size(); ++t) {
    EXPECT_EQ(s.tasks[t].start, events.tasks[t].start) << t;
    EXPECT_EQ(s.tasks[t].end, events.tasks[t].end) << t;
  }
}

TEST(NicSharing, AGraphTimedInTheLastOrderSharesItsNicsAsTheEventsDo) {
  engine::TaskGraphExecutor ex;
  two_gpus(ex, 3, 2, 6);
  const engine::Schedule again = two_gpus(ex, 4, 1, 6);
  EXPECT_TRUE(ex.retimed());
  expect_events(again, 4, 1, 6);
  // `one` runs alone from 1 us, 3 of its 6 by 4, when `both` and the long one start: halves on
  // both NICs, so `one` ends at 10, and `both`, 3 of its 10 done by then and still at half beside
  // the long one, at 24.
  EXPECT_EQ(again.tasks[3].end.since_start(), us(10));
  EXPECT_EQ(again.tasks[2].end.since_start(), us(24));
  // `one` now ends after `both`: stream 0 takes the task after `both` first, against the order
  // kept, found while the long one still runs.
  const engine::Schedule reordered = two_gpus(ex, 4, 1, 40);
  EXPECT_FALSE(ex.retimed());
  expect_events(reordered, 4, 1, 40);
}

// The all-to-all-heavy scenario under ZeRO 3: each layer's weights are gathered, and its gradients
// reduce-scattered, over the 16-way data-parallel group, across nodes, on the data-parallel
// stream beside the all-to-alls.
scenarios::Scenario fsdp(bool share_nics) {
  return all_to_all_heavy("1f1b", {"parallelism.zero=3", "parallelism.recompute=full",
                                   std::string("cluster.network.share_nics=") + (share_nics ? "true" : "false")});
}

bool overlap(const TimelineSpan& a, const TimelineSpan& b) { return a.start < b.start + b.duration && b.start < a.start + a.duration; }

TEST(NicSharing, AllToAllsBesideDataParallelTrafficAcrossNodesTakeLongerThanAloneAndTheStepWithThem) {
  const std::vector<TimelineSpan> shared = spans_of(fsdp(true)), apart = spans_of(fsdp(false));
  ASSERT_EQ(shared.size(), apart.size());
  int slowed = 0, kept = 0;
  for (size_t i = 0; i < shared.size(); ++i) {
    const TimelineSpan& s = shared[i];
    if (s.kind != TaskKind::kDispatch && s.kind != TaskKind::kCombine) continue;
    ASSERT_EQ(apart[i].kind, s.kind);
    // Beside a weight gather or a gradient reduction of its GPU (every GPU of a stage does the same).
    const bool beside = std::any_of(shared.begin(), shared.end(), [&](const TimelineSpan& o) {
      return o.gpu == s.gpu && o.stream == LaneStream::kDataParallel && overlap(o, s);
    });
    // Alone on its NICs an all-to-all takes its analytic time exactly; beside one, longer.
    if (beside) {
      EXPECT_GT(s.duration, apart[i].duration);
      ++slowed;
    } else {
      EXPECT_EQ(s.duration, apart[i].duration);
      ++kept;
    }
  }
  EXPECT_GT(slowed, 0);
  EXPECT_GT(kept, 0);
  EXPECT_GT(run_step(fsdp(true)).step_time, run_step(fsdp(false)).step_time);
}

TEST(NicSharing, WithinOneNodeNothingCrossesANicAndTheStepIsTheSame) {
  const auto one_node = [](bool share) {
    return pipeline({"parallelism.zero=3", std::string("cluster.network.share_nics=") + (share ? "true" : "false")});
  };
  EXPECT_EQ(run_step(one_node(true)).step_time, run_step(one_node(false)).step_time);
}

}  // namespace
}  // namespace moesim
