#include "sim/step/step_simulator.h"
#include "sim/runner.h"

#include <gtest/gtest.h>

#include "models/gating/capacity.h"
#include "policies/placement/static_placement.h"
#include "scenarios/loader/loader.h"

namespace moesim {
namespace {

// Two GPUs on one node, one MoE layer with two experts (one per GPU), 4096 tokens per GPU.
scenarios::Scenario tiny(const std::vector<std::string>& overrides = {}) {
  return scenarios::load_scenario_text(R"(
name: tiny
steps: 1
cluster: {preset: h100-dgx, nodes: 1, gpus_per_node: 2, nic: {count: 2}}
model: {preset: gpt3-125m-moe, layers: 1, first_moe_layer: 0, moe_every: 1, experts: 2, top_k: 1}
parallelism: {ep: 2, dp: 2}
training: {tokens_per_step: 8192, seq_len: 2048}
)",
                                       "tiny.yaml", overrides);
}

gating::RoutingMatrix routing(int layers, int ranks, int experts, std::vector<int32_t> per_rank_row) {
  gating::RoutingMatrix m(layers, ranks, experts);
  for (int l = 0; l < layers; ++l)
    for (int r = 0; r < ranks; ++r)
      for (int e = 0; e < experts; ++e) m.row(l, r)[e] = per_rank_row[e];
  return m;
}

policies::Placement contiguous(const scenarios::Scenario& s) {
  return policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
}

TaskKind kind_of(uint32_t tag) { return static_cast<TaskKind>(tag & 0xff); }

TEST(StepSimulator, CriticalPathOfTheLoadedGpuOnATinyCluster) {
  // Every token goes to expert 0 on GPU 0. GPU 0 never waits for GPU 1 (which has no expert
  // work), so the step is GPU 0's compute, every all-to-all and the gradient all-reduce
  // back to back.
  const auto s = tiny();
  StepSimulator sim(step_config(s));
  const StepResult r = sim.simulate(routing(1, 2, 2, {4096, 0}), contiguous(s));
  const auto& g = sim.graph();
  Duration gpu0_compute, collectives;
  int all_to_alls = 0, all_reduces = 0;
  for (engine::TaskId t = 0; t < g.task_count(); ++t) {
    const auto res = g.resources(t);
    const TaskKind k = kind_of(g.tag(t));
    if (res.size() == 1 && res[0] == StepSimulator::compute_stream(0)) gpu0_compute += g.duration(t);
    if (k == TaskKind::kDispatch || k == TaskKind::kCombine) ++all_to_alls, collectives += g.duration(t);
    if (k == TaskKind::kDenseGradAllReduce) ++all_reduces, collectives += g.duration(t);
  }
  EXPECT_EQ(g.task_count(), 21u);  // 8 compute tasks per GPU, 4 all-to-alls, 1 all-reduce
  EXPECT_EQ(all_to_alls, 4);
  EXPECT_EQ(all_reduces, 1);
  EXPECT_EQ(r.step_time, gpu0_compute + collectives);
  EXPECT_EQ(r.compute_busy[0], gpu0_compute);
  EXPECT_LT(r.compute_busy[1], r.compute_busy[0]);
  EXPECT_DOUBLE_EQ(r.imbalance, 2.0);  // one GPU does all the expert work: max/mean = 2
  // GPU 1 sends its 4096 tokens (1024 hidden... here 768 x 2 bytes) to GPU 0, four times.
  EXPECT_DOUBLE_EQ(r.a2a_intra_node.count(), 4 * 4096 * 768 * 2.0);
}

TEST(StepSimulator, TasksNeverOverlapOnAStreamAndRespectDependencies) {
  const auto s = tiny();
  StepSimulator sim(step_config(s));
  sim.simulate(routing(1, 2, 2, {3000, 1096}), contiguous(s));
  const auto& g = sim.graph();
  const auto& sch = sim.schedule();
  for (const auto& [before, after] : g.edges()) EXPECT_LE(sch.tasks[before].end, sch.tasks[after].start);
  for (engine::TaskId a = 0; a < g.task_count(); ++a)
    for (engine::TaskId b = a + 1; b < g.task_count(); ++b)
      for (auto ra : g.resources(a))
        for (auto rb : g.resources(b))
          if (ra == rb) {
            EXPECT_TRUE(sch.tasks[a].end <= sch.tasks[b].start || sch.tasks[b].end <= sch.tasks[a].start);
          }
}

TEST(StepSimulator, TimelineSpansEveryTaskOnEveryStreamItOccupies) {
  // Every token goes to expert 0 on GPU 0: GPU 1 sends all its tokens, GPU 0 computes on all.
  const auto s = tiny();
  StepSimulator sim(step_config(s));
  const StepResult r = sim.simulate(routing(1, 2, 2, {4096, 0}), contiguous(s));
  std::vector<TimelineSpan> spans;
  sim.append_timeline(7, Milliseconds(5), spans);
  EXPECT_EQ(spans.size(), 8u * 2 + 5 * 2);  // compute tasks once, collectives on both GPUs
  Duration busy0, busy1;
  int backward = 0;
  for (const auto& span : spans) {
    EXPECT_EQ(span.step, 7);
    EXPECT_GE(span.start, Milliseconds(5));
    EXPECT_LE(span.start + span.duration, Milliseconds(5) + r.step_time);
    if (!span.comm) (span.gpu == 0 ? busy0 : busy1) += span.duration;
    if (span.kind == TaskKind::kExperts) {
      EXPECT_DOUBLE_EQ(span.tokens, span.gpu == 0 ? 8192 : 0);
    }
    if (span.kind == TaskKind::kDispatch) {
      EXPECT_DOUBLE_EQ(span.bytes, span.gpu == 1 ? 4096 * 768 * 2.0 : 0);
    }
    if (span.kind == TaskKind::kLmHead) {
      EXPECT_FALSE(span.backward);
    }
    if (span.kind == TaskKind::kDenseGradAllReduce || span.kind == TaskKind::kOptimizer) {
      EXPECT_TRUE(span.backward);
    }
    backward += span.backward;
  }
  EXPECT_EQ(backward, (4 + 3) * 2);  // experts, gate, attention, optimizer; combine, dispatch, all-reduce
  EXPECT_EQ(busy0, r.compute_busy[0]);
  EXPECT_EQ(busy1, r.compute_busy[1]);
}

TEST(StepSimulator, SkewMakesTheLoadedGpuTheStraggler) {
  const auto s = tiny();
  StepSimulator sim(step_config(s));
  const StepResult balanced = sim.simulate(routing(1, 2, 2, {2048, 2048}), contiguous(s));
  const StepResult skewed = sim.simulate(routing(1, 2, 2, {3500, 596}), contiguous(s));
  EXPECT_GT(skewed.step_time, balanced.step_time);
  EXPECT_GT(skewed.imbalance, balanced.imbalance);
  EXPECT_DOUBLE_EQ(balanced.imbalance, 1.0);
}

TEST(StepSimulator, CapacityModePadsSoSkewOnlyDropsTokens) {
  const auto s = tiny({"training.expert_execution=capacity"});
  ASSERT_EQ(s.training.expert_execution, scenarios::ExpertExecution::kCapacity);
  StepSimulator sim(step_config(s));
  auto balanced = routing(1, 2, 2, {2048, 2048});
  auto skewed = routing(1, 2, 2, {3500, 596});
  const int64_t capacity = gating::expert_capacity(s.model.capacity_factor, 4096, 1, 2);  // 2560
  EXPECT_EQ(gating::apply_capacity(balanced, capacity), 0);
  EXPECT_EQ(gating::apply_capacity(skewed, capacity), 2 * (3500 - 2560));
  const StepResult a = sim.simulate(balanced, contiguous(s));
  const StepResult b = sim.simulate(skewed, contiguous(s));
  EXPECT_EQ(a.step_time, b.step_time);  // padded buffers cost the same
  EXPECT_EQ(b.dropped, 2 * (3500 - 2560));
  EXPECT_EQ(b.assignments, 8192);
}

TEST(StepSimulator, SameInputsSameResult) {
  const auto s = scenarios::load_scenario_text(R"(
cluster: {preset: h100-dgx, nodes: 2}
model: {preset: gpt3-125m-moe}
parallelism: {ep: 8, dp: 16}
training: {tokens_per_step: 65536, seq_len: 2048}
)",
                                               "two-nodes.yaml");
  StepSimulator a(step_config(s)), b(step_config(s));
  auto r = routing(6, 16, 16, {512, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256});
  const StepResult x = a.simulate(r, contiguous(s));
  const StepResult y = b.simulate(r, contiguous(s));
  EXPECT_EQ(x.step_time, y.step_time);
  EXPECT_EQ(x.compute_busy, y.compute_busy);
  // Expert gradients are all-reduced over the two EP groups: one per EP rank and MoE layer.
  int expert_reduces = 0;
  for (engine::TaskId t = 0; t < a.graph().task_count(); ++t) expert_reduces += kind_of(a.graph().tag(t)) == TaskKind::kExpertGradAllReduce;
  EXPECT_EQ(expert_reduces, 8 * 6);
}

}  // namespace
}  // namespace moesim
