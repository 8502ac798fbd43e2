#include "sim/step/step_simulator.h"

#include <gtest/gtest.h>

#include "hardware/presets.h"
#include "models/gating/capacity.h"
#include "models/presets.h"
#include "policies/placement/static_placement.h"

namespace moesim {
namespace {

// Two GPUs on one node, one MoE layer with two experts (one per GPU), 4096 tokens per GPU: plain
// data, as the step model takes it.
StepConfig tiny(ExpertExecution execution = ExpertExecution::kDropless) {
  StepConfig c;
  c.cluster = *hardware::cluster_preset("h100-dgx");
  c.cluster.nodes = 1;
  c.cluster.gpus_per_node = 2;
  c.cluster.intra_node.group_size = 2;  // NVSwitch joins the node's GPUs
  c.cluster.nic.count = 2;
  c.cluster.fabric.spines = 2;  // one per rail
  c.model = *models::model_preset("gpt3-125m-moe");
  c.model.layers = 1;
  c.model.first_moe_layer = 0;
  c.model.moe_every = 1;
  c.model.experts = 2;
  c.model.top_k = 1;
  c.parallel.ep = 2;
  c.parallel.dp = 2;
  c.tokens_per_rank = 4096;
  c.seq_len = 2048;
  c.expert_execution = execution;
  return c;
}

gating::RoutingMatrix routing(int layers, int ranks, int experts, std::vector<int32_t> per_rank_row) {
  gating::RoutingMatrix m(layers, ranks, experts);
  for (int l = 0; l < layers; ++l)
    for (int r = 0; r < ranks; ++r)
      for (int e = 0; e < experts; ++e) m.row(l, r)[e] = per_rank_row[e];
  return m;
}

policies::Placement contiguous(const StepConfig& c) {
  return policies::static_placement({c.model.moe_layer_count(), c.model.experts, c.parallel.ep}, policies::StaticLayout::kContiguous);
}

TaskKind kind_of(uint32_t tag) { return tag_kind(tag); }

TEST(StepSimulator, CriticalPathOfTheLoadedGpuOnATinyCluster) {
  // Every token goes to expert 0 on GPU 0. GPU 0 never waits for GPU 1 (which has no expert
  // work), so the step is GPU 0's compute, every all-to-all and the gradient all-reduce
  // back to back.
  const auto s = tiny();
  StepSimulator sim(s);
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
  EXPECT_EQ(g.task_count(), 25u);  // 10 compute tasks per GPU, 4 all-to-alls, 1 all-reduce
  EXPECT_EQ(all_to_alls, 4);
  EXPECT_EQ(all_reduces, 1);
  EXPECT_EQ(r.step_time, gpu0_compute + collectives);
  EXPECT_EQ(r.compute_busy[0], gpu0_compute);
  EXPECT_LT(r.compute_busy[1], r.compute_busy[0]);
  EXPECT_DOUBLE_EQ(r.imbalance, 2.0);  // one GPU does all the expert work: max/mean = 2
  // GPU 1 sends its 4096 tokens (1024 hidden... here 768 x 2 bytes) to GPU 0, four times.
  EXPECT_DOUBLE_EQ(r.a2a_intra_node.count(), 4 * 4096 * 768 * 2.0);
}

// A replicated expert's copies sum their gradients after the backward, on the network: with
// expert 0 on both GPUs, each sends the other 2 (2 - 1) / 2 = 1 copy of its gradient. Without a
// replica there is no such task.
TEST(StepSimulator, ReplicasReduceTheirGradients) {
  auto s = tiny();
  s.spare_slots = 1;
  policies::Placement replicated = contiguous(s);
  replicated.layers[0].replicas[0] = {{0, 0.5}, {1, 0.5}};
  StepSimulator sim(s);
  const gating::RoutingMatrix hot = routing(1, 2, 2, {4096, 0});
  const StepResult r = sim.simulate(hot, replicated);
  const auto& g = sim.graph();
  int reductions = 0;
  Duration reduce_time;
  for (engine::TaskId t = 0; t < g.task_count(); ++t)
    if (kind_of(g.tag(t)) == TaskKind::kReplicaGradReduce) ++reductions, reduce_time = g.duration(t);
  EXPECT_EQ(reductions, 1);
  const double grad = models::param_counts(s.model).expert * s.model.grad_bytes_per_param;
  const double nvlink = s.cluster.intra_node.link.effective().bytes_per_second();
  EXPECT_GE(reduce_time.seconds(), grad / nvlink);  // each GPU sends one gradient over its NVLink
  std::vector<TimelineSpan> spans;
  sim.append_timeline(0, Duration(), spans);
  int shown = 0;
  for (const auto& span : spans) {
    if (span.kind != TaskKind::kReplicaGradReduce) continue;
    ++shown;
    EXPECT_DOUBLE_EQ(span.bytes, grad);
  }
  EXPECT_GE(shown, 1);
  EXPECT_GT(r.step_time, Duration());

  StepSimulator plain(s);
  plain.simulate(hot, contiguous(s));
  for (engine::TaskId t = 0; t < plain.graph().task_count(); ++t) EXPECT_NE(kind_of(plain.graph().tag(t)), TaskKind::kReplicaGradReduce);
}

TEST(StepSimulator, TasksNeverOverlapOnAStreamAndRespectDependencies) {
  const auto s = tiny();
  StepSimulator sim(s);
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
  StepSimulator sim(s);
  const StepResult r = sim.simulate(routing(1, 2, 2, {4096, 0}), contiguous(s));
  std::vector<TimelineSpan> spans;
  sim.append_timeline(7, Milliseconds(5), spans);
  EXPECT_EQ(spans.size(), 10u * 2 + 5 * 2);  // compute tasks once, collectives on both GPUs
  Duration busy0, busy1;
  int backward = 0;
  for (const auto& span : spans) {
    EXPECT_EQ(span.step, 7);
    EXPECT_GE(span.start, Milliseconds(5));
    EXPECT_LE(span.start + span.duration, Milliseconds(5) + r.step_time);
    if (span.stream == LaneStream::kCompute) (span.gpu == 0 ? busy0 : busy1) += span.duration;
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
  EXPECT_EQ(backward, (5 + 3) * 2);  // experts, gate, attention, embedding, optimizer; combine, dispatch, all-reduce
  EXPECT_EQ(busy0, r.compute_busy[0]);
  EXPECT_EQ(busy1, r.compute_busy[1]);
}

TEST(StepSimulator, SkewMakesTheLoadedGpuTheStraggler) {
  const auto s = tiny();
  StepSimulator sim(s);
  const StepResult balanced = sim.simulate(routing(1, 2, 2, {2048, 2048}), contiguous(s));
  const StepResult skewed = sim.simulate(routing(1, 2, 2, {3500, 596}), contiguous(s));
  EXPECT_GT(skewed.step_time, balanced.step_time);
  EXPECT_GT(skewed.imbalance, balanced.imbalance);
  EXPECT_DOUBLE_EQ(balanced.imbalance, 1.0);
}

TEST(StepSimulator, CapacityModePadsSoSkewOnlyDropsTokens) {
  const auto s = tiny(ExpertExecution::kCapacity);
  ASSERT_EQ(s.expert_execution, ExpertExecution::kCapacity);
  StepSimulator sim(s);
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
  // Two nodes, 16 GPUs, the whole GPT-3 125M MoE model, two EP groups of 8.
  StepConfig s = tiny();
  s.cluster.gpus_per_node = 8;
  s.cluster.nodes = 2;
  s.cluster.intra_node.group_size = 8;
  s.cluster.nic.count = 8;
  s.cluster.fabric.spines = 8;
  s.model = *models::model_preset("gpt3-125m-moe");
  s.parallel.ep = 8;
  s.parallel.dp = 16;
  StepSimulator a(s), b(s);
  auto r = routing(6, 16, 16, {512, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256});
  const StepResult x = a.simulate(r, contiguous(s));
  const StepResult y = b.simulate(r, contiguous(s));
  EXPECT_EQ(x.step_time, y.step_time);
  EXPECT_EQ(x.compute_busy, y.compute_busy);
  // The GPUs holding expert 0 (one per EP group) do the same work, and so do all the others: two
  // lanes stand for the 16 GPUs.
  ASSERT_EQ(a.lanes().count(), 2);
  EXPECT_EQ(a.lanes().of_gpu[0], a.lanes().of_gpu[8]);
  EXPECT_EQ(x.compute_busy[1], x.compute_busy[15]);
  // Expert gradients are all-reduced over the two EP groups, in Megatron's buckets of 40M
  // parameters: a GPU's 2 experts of 4.7M in each of 6 MoE layers, in backward order, close a
  // bucket at the 5th layer (47M) and the 6th (the chunk's last): two per simulated EP rank.
  int expert_reduces = 0;
  for (engine::TaskId t = 0; t < a.graph().task_count(); ++t) expert_reduces += kind_of(a.graph().tag(t)) == TaskKind::kExpertGradAllReduce;
  EXPECT_EQ(expert_reduces, 2 * 2);
  // A simulator that ran another step first (its buffers then hold that step's tasks) measures
  // the same: step time, busy, exposed communication and bubble.
  StepSimulator warm(s);
  warm.simulate(routing(6, 16, 16, std::vector<int32_t>(16, 272)), contiguous(s));
  const StepResult z = warm.simulate(r, contiguous(s));
  EXPECT_EQ(z.step_time, x.step_time);
  EXPECT_EQ(z.compute_busy, x.compute_busy);
  EXPECT_EQ(z.exposed_comm, x.exposed_comm);
  EXPECT_EQ(z.bubble, x.bubble);
}

// The runner lets a policy take a twin simulator's step (same configuration, same routing) where
// both started from the same placement and go to the same one: repeat() must then leave it where
// simulating would, and would_repeat() must refuse where the step would differ (another
// placement before, so another migration; another placement now).
TEST(StepSimulator, RepeatsATwinsStepOnlyFromTheSamePlacementToTheSame) {
  const auto s = tiny();
  const policies::Placement here = contiguous(s);
  policies::Placement swapped = here;
  std::swap(swapped.layers[0].replicas[0], swapped.layers[0].replicas[1]);
  const auto r = routing(1, 2, 2, {3000, 1096});
  StepSimulator twin(s), copier(s), alone(s);
  // The first step: neither held a placement.
  const StepResult first = twin.simulate(r, here);
  ASSERT_TRUE(copier.would_repeat(twin, here));
  EXPECT_FALSE(copier.would_repeat(twin, swapped));
  copier.repeat(here);
  EXPECT_TRUE(copier.placement_changed());
  EXPECT_EQ(alone.simulate(r, here).step_time, first.step_time);
  // A move: the twin migrated from `here`, as the copier would.
  const StepResult moved = twin.simulate(r, swapped);
  ASSERT_GT(moved.migration_bytes.count(), 0);
  ASSERT_TRUE(copier.would_repeat(twin, swapped));
  copier.repeat(swapped);
  EXPECT_TRUE(copier.placement_changed());
  const StepResult moved_alone = alone.simulate(r, swapped);
  EXPECT_EQ(moved_alone.step_time, moved.step_time);
  EXPECT_EQ(moved_alone.migration_bytes, moved.migration_bytes);
  // Staying put: the copier now holds `swapped`, as the twin does; a simulator still at `here`
  // would migrate, so it may not take the twin's step.
  twin.simulate(r, swapped);
  EXPECT_TRUE(copier.would_repeat(twin, swapped));
  copier.repeat(swapped);
  EXPECT_FALSE(copier.placement_changed());
  StepSimulator behind(s);
  behind.simulate(r, here);
  EXPECT_FALSE(behind.would_repeat(twin, swapped));
  // And after repeating, the copier simulates on from where it stands: no migration.
  EXPECT_EQ(copier.simulate(r, swapped).migration_bytes.count(), 0);
}

}  // namespace
}  // namespace moesim
