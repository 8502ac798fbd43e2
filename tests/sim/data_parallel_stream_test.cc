// The data-parallel groups' collectives on a stream of their own (step_dag.h).
#include <gtest/gtest.h>

#include <vector>

#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

// One step of the all-to-all-heavy scenario under ZeRO 3 (FSDP) with full recomputation: each
// layer's dense weights are gathered over the 16-way data-parallel group before its forward and
// again before its backward, which reruns the layer's all-to-alls.
scenarios::Scenario fsdp() { return all_to_all_heavy("1f1b", {"parallelism.zero=3", "parallelism.recompute=full"}); }

bool overlap(const TimelineSpan& a, const TimelineSpan& b) { return a.start < b.start + b.duration && b.start < a.start + a.duration; }

TEST(DataParallelStream, APrefetchedWeightGatherRunsBesideTheAllToAlls) {
  StepSimulator sim(step_config(fsdp()));
  simulate_step(fsdp(), sim);
  std::vector<TimelineSpan> spans;
  sim.append_timeline(0, Duration(), spans);
  std::vector<TimelineSpan> gathers, all_to_alls;
  for (const auto& span : spans) {
    if (span.gpu != 0) continue;
    if (span.kind == TaskKind::kParamAllGather) {
      EXPECT_EQ(span.stream, LaneStream::kDataParallel);
      gathers.push_back(span);
    }
    if (span.kind == TaskKind::kDispatch || span.kind == TaskKind::kCombine) {
      EXPECT_EQ(span.stream, LaneStream::kComm);
      all_to_alls.push_back(span);
    }
  }
  ASSERT_FALSE(gathers.empty());
  ASSERT_FALSE(all_to_alls.empty());
  int beside = 0;
  for (const auto& g : gathers) {
    for (const auto& a : all_to_alls) beside += overlap(g, a) ? 1 : 0;
  }
  // On one communication stream a gather would wait for the all-to-all ahead of it, and the
  // combine behind it for the whole gather.
  EXPECT_GT(beside, 0);
}

TEST(DataParallelStream, ExposedCommunicationCountsTimeOnceWhenBothStreamsWork) {
  const StepResult r = run_step(fsdp());
  double busy = 0;
  for (const Duration& d : r.compute_busy) busy += d.seconds() / static_cast<double>(r.compute_busy.size());
  EXPECT_GT(r.exposed_comm, Duration());
  EXPECT_GE(r.bubble, Duration());
  EXPECT_LE(r.exposed_comm.seconds(), r.step_time.seconds() - busy + 1e-12);
}

}  // namespace
}  // namespace moesim
