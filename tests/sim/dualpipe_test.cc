// DeepSeek's DualPipe schedules: DualPipeV's V (one copy, two chunks per GPU) and the
// bidirectional DualPipe (two copies fed from both ends), their orders and their steps.
#include <gtest/gtest.h>

#include <map>

#include "scenarios/loader/loader.h"
#include "sim/runner.h"
#include "sim/step/lanes.h"
#include "sim/step/memory_model.h"
#include "sim/step/schedule.h"
#include "sim/step/step_simulator.h"
#include "sim/step/task_kind.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

TEST(Schedule, DualPipeVRunsBothChunksOfEveryMicroBatchOnceEachWayInAV) {
  const ScheduleEntry& v = *find_schedule("dualpipev");
  const VirtualStages where = virtual_stages(v, 4, 2);
  // Stage 0 holds the first and the last virtual stage; the turn is on stage 3.
  EXPECT_EQ(where.virtual_stage(0, 0), 0);
  EXPECT_EQ(where.virtual_stage(0, 1), 7);
  EXPECT_EQ(where.stage_of(4), 3);
  EXPECT_EQ(where.stage_of(3), 3);
  for (int stage = 0; stage < 4; ++stage) {
    const auto order = pipeline_order(v, stage, 4, 2, 10);
    // dualpipev.py's zero-bubble passes: 2 (pp - 1 - stage) in phases 3 and 7, stage + 1 in 6.
    const int weight_passes = 2 * (4 - 1 - stage) + stage + 1;
    ASSERT_EQ(order.size(), 40u + weight_passes);
    int forward[10][2] = {}, backward[10][2] = {};
    std::vector<std::pair<int, int>> deferred, weighed;
    for (const auto& op : order) {
      if (op.weights) {
        weighed.emplace_back(op.micro_batch, op.chunk);
        EXPECT_LT(weighed.size(), deferred.size() + 1) << "weight gradients before their backward on stage " << stage;
        continue;
      }
      if (op.defers_weights) deferred.emplace_back(op.micro_batch, op.chunk);
      auto& seen = op.backward ? backward : forward;
      if (op.backward) {
        EXPECT_EQ(forward[op.micro_batch][op.chunk], 1) << "backward before forward on stage " << stage;
      }
      seen[op.micro_batch][op.chunk]++;
    }
    for (int mb = 0; mb < 10; ++mb)
      for (int chunk = 0; chunk < 2; ++chunk) EXPECT_EQ(forward[mb][chunk] + 10 * backward[mb][chunk], 11);
    // Each deferred backward's weights once, in the order deferred (DualPipe's queue).
    EXPECT_EQ(weighed, deferred);
    EXPECT_EQ(static_cast<int>(weighed.size()), weight_passes);
    // DualPipe's activation memory: pp + 1 micro-batches of a whole stage, 2pp + 1 chunks, with
    // a deferred backward's activations held until its weight gradients.
    EXPECT_EQ(peak_in_flight(order), 9) << "stage " << stage;
    const auto whole = pipeline_order(v, stage, 4, 2, 10, false);
    EXPECT_EQ(whole.size(), 40u);
    EXPECT_EQ(peak_in_flight(whole), 9) << "stage " << stage;
  }
  // Stage 0's steady state: forward of chunk 0 beside backward of chunk 1, then the reverse.
  const auto first = pipeline_order(v, 0, 4, 2, 10);
  int pairs = 0;
  for (size_t i = 1; i < first.size(); ++i) {
    if (!first[i].overlaps_previous) continue;
    ++pairs;
    EXPECT_NE(first[i].chunk, first[i - 1].chunk);
    EXPECT_TRUE(first[i].backward);
    EXPECT_FALSE(first[i - 1].backward);
  }
  EXPECT_EQ(pairs, 2 * (10 - 8 + 1) + 3);
}

TEST(Schedule, DualPipeFeedsHalfTheMicroBatchesFromEachEndAsTwoMirroredDualPipeVs) {
  const ScheduleEntry& dual = *find_schedule("dualpipe");
  const VirtualStages where = virtual_stages(dual, 4, 2);
  // Four virtual stages and two copies: stage 0 runs the first of the copy fed from stage 0 and
  // the last of the copy fed from stage 3.
  EXPECT_EQ(where.count(), 4);
  EXPECT_EQ(where.virtual_stage(0, 0), 0);
  EXPECT_EQ(where.virtual_stage(0, 1), 3);
  EXPECT_EQ(where.virtual_stage(2, 1), 1);
  EXPECT_EQ(where.stage_of(1, 0), 1);
  EXPECT_EQ(where.stage_of(1, 1), 2);
  EXPECT_EQ(where.direction(4, 10), 0);
  EXPECT_EQ(where.direction(5, 10), 1);
  const ScheduleEntry& v = *find_schedule("dualpipev");
  for (int stage = 0; stage < 4; ++stage) {
    const auto order = pipeline_order(dual, stage, 4, 2, 10);
    // dualpipe.py: the order of DualPipeV's stage min(s, pp - 1 - s) of pp / 2, with n / 2
    // micro-batches a direction; the second half's chunk 0 is the copy fed from its own end.
    const int half_rank = std::min(stage, 3 - stage);
    const auto half = pipeline_order(v, half_rank, 2, 2, 5);
    ASSERT_EQ(order.size(), half.size());
    for (size_t i = 0; i < order.size(); ++i) {
      const int chunk = half[i].chunk ^ (stage >= 2 ? 1 : 0);
      EXPECT_EQ(order[i].chunk, chunk);
      EXPECT_EQ(order[i].micro_batch, half[i].micro_batch + 5 * chunk);
      EXPECT_EQ(order[i].backward, half[i].backward);
      EXPECT_EQ(order[i].weights, half[i].weights);
      EXPECT_EQ(order[i].overlaps_previous, half[i].overlaps_previous);
    }
    // Each chunk runs its own half of the micro-batches, each forward and backward once.
    int forward[10] = {}, backward[10] = {};
    for (const auto& op : order) {
      if (op.weights) continue;
      EXPECT_EQ(op.micro_batch / 5, op.chunk) << "stage " << stage;
      (op.backward ? backward : forward)[op.micro_batch]++;
    }
    for (int mb = 0; mb < 10; ++mb) EXPECT_TRUE(forward[mb] == 1 && backward[mb] == 1) << "stage " << stage << ", micro-batch " << mb;
  }
}

TEST(PipelineStep, DualPipeVBubbleIsSmallerAndItsOverlapHidesAllToAlls) {
  // pp 4 and 8 micro-batches, eight one-layer virtual stages: 1F1B idles (p - 1) / (m + p - 1) =
  // 27 %; the V's passes are half as long and its weight-gradient passes fill part of what is
  // left, so it keeps under half of that (about two thirds without them).
  const StepResult plain = run_step(pipeline({}));
  const StepResult v = run_step(pipeline({"schedule=dualpipev", "parallelism.vp=2"}));
  EXPECT_LT(v.bubble / v.step_time, 0.5 * (plain.bubble / plain.step_time));
  EXPECT_GT(v.bubble / v.step_time, 0.05);  // but the V has a bubble still
  EXPECT_LT(v.step_time, plain.step_time);
  const StepResult heavy = run_step(all_to_all_heavy("1f1b"));
  const StepResult heavy_v = run_step(all_to_all_heavy("dualpipev", {"parallelism.vp=2"}));
  EXPECT_LT(heavy_v.exposed_comm, heavy.exposed_comm * 0.8);
  EXPECT_LT(heavy_v.step_time, heavy.step_time);
}

TEST(PipelineStep, DualPipeShrinksDualPipeVsBubbleForTwiceTheParameters) {
  // DeepSeek-V3's Table 2: on the same pp, DualPipe's bubble is (pp / 2 - 1) passes of its
  // chunks, DualPipeV's about (pp - 1) of chunks half as long; DualPipe pays with a second copy.
  const scenarios::Scenario v_scenario = pipeline({"schedule=dualpipev", "parallelism.vp=2"});
  const scenarios::Scenario dual_scenario = pipeline({"schedule=dualpipe", "parallelism.vp=2"});
  const StepResult v = run_step(v_scenario);
  StepSimulator sim(step_config(dual_scenario));
  const StepResult dual = simulate_step(dual_scenario, sim);
  EXPECT_LT(dual.bubble / dual.step_time, 0.85 * (v.bubble / v.step_time));
  EXPECT_GT(dual.bubble / dual.step_time, 0.03);
  EXPECT_LT(dual.step_time, v.step_time);
  auto weights = [](const scenarios::Scenario& s, int stage) { return gpu_memory(step_config(s)).stages[stage].terms[0].bytes; };
  EXPECT_DOUBLE_EQ(weights(dual_scenario, 1), 2 * weights(v_scenario, 1));

  // Without data parallelism the only gradient reductions are the copies' sums: one per layer,
  // on a GPU and its mirror, after both have finished the layer's backward.
  int reductions = 0;
  const engine::TaskGraph& graph = sim.graph();
  const engine::Schedule& schedule = sim.schedule();
  const Lanes& lanes = sim.lanes();
  int sums = 0;
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    reductions += tag_kind(graph.tag(t)) == TaskKind::kDenseGradAllReduce || tag_kind(graph.tag(t)) == TaskKind::kExpertGradAllReduce;
    if (tag_kind(graph.tag(t)) != TaskKind::kMirrorGradSum) continue;
    ++sums;
    const int layer = tag_layer(graph.tag(t));
    const auto streams = graph.resources(t);
    ASSERT_EQ(streams.size(), 2u);
    std::vector<int> pair, stages;
    for (engine::ResourceId r : streams) {
      for (int lane = 0; lane < lanes.count(); ++lane) {
        if (data_parallel_stream(lane) == r) pair.push_back(lane), stages.push_back(lanes.gpu[lane]);  // one GPU per stage
      }
    }
    ASSERT_EQ(stages.size(), 2u);
    EXPECT_EQ(stages[0] + stages[1], 3) << "layer " << layer;
    for (engine::TaskId u = 0; u < graph.task_count(); ++u) {
      const auto on = graph.resources(u);
      if (on.size() != 1 || tag_layer(graph.tag(u)) != layer || !tag_backward(graph.tag(u))) continue;
      for (int lane : pair) {
        if (on[0] == StepSimulator::compute_stream(lane)) {
          EXPECT_LE(schedule.tasks[u].end, schedule.tasks[t].start) << "layer " << layer;
        }
      }
    }
  }
  EXPECT_EQ(sums, 8);
  EXPECT_EQ(reductions, 0);
}

TEST(PipelineStep, DualPipeSumsItsCopiesShardsAfterEachCopysDataParallelReduction) {
  // ZeRO 1 over 16 data-parallel GPUs a stage: each copy reduce-scatters a layer's gradients
  // first, and the mirror GPUs then sum the shards they hold.
  const scenarios::Scenario s = all_to_all_heavy("dualpipe", {"parallelism.vp=2"});
  StepSimulator sim(step_config(s));
  simulate_step(s, sim);
  const engine::TaskGraph& graph = sim.graph();
  const engine::Schedule& schedule = sim.schedule();
  std::map<std::pair<int, engine::ResourceId>, SimTime> reduced;  // (layer, stream): its reductions' end
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const TaskKind kind = tag_kind(graph.tag(t));
    if (kind != TaskKind::kDenseGradAllReduce && kind != TaskKind::kExpertGradAllReduce) continue;
    for (engine::ResourceId r : graph.resources(t)) {
      SimTime& end = reduced[{tag_layer(graph.tag(t)), r}];
      end = std::max(end, schedule.tasks[t].end);
    }
  }
  int sums = 0;
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    if (tag_kind(graph.tag(t)) != TaskKind::kMirrorGradSum) continue;
    ++sums;
    for (engine::ResourceId r : graph.resources(t)) {
      const auto it = reduced.find({tag_layer(graph.tag(t)), r});
      ASSERT_NE(it, reduced.end()) << "layer " << tag_layer(graph.tag(t)) << " has no data-parallel reduction";
      EXPECT_LE(it->second, schedule.tasks[t].start);
    }
  }
  EXPECT_EQ(sums, 8);  // balanced: one simulated GPU a stage, 8 layers
}

}  // namespace
}  // namespace moesim
