// Parallel layouts, pipeline schedules and what they do to a step: the bubble comes out of the DAG
// and matches the textbook fractions where those are exact; overlapping hides all-to-alls;
// simulating one GPU per set of identical GPUs changes nothing; the memory model shards and
// recomputes as the keys say.
#include <gtest/gtest.h>

#include <map>

#include "models/presets.h"
#include "policies/placement/static_placement.h"
#include "scenarios/loader/loader.h"
#include "sim/runner.h"
#include "sim/step/lanes.h"
#include "sim/step/memory_model.h"
#include "sim/step/parallel_layout.h"
#include "sim/step/schedule.h"
#include "sim/step/step_dag.h"
#include "sim/step/step_metrics.h"
#include "sim/step/step_simulator.h"
#include "sim/step/task_kind.h"
#include "sim/summary.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

TEST(ParallelLayout, MegatronOrderTensorInnermostThenContextDataPipeline) {
  Parallelism p;
  p.tp = 2, p.pp = 2, p.dp = 4, p.ep = 4;
  const ParallelLayout layout(p);
  EXPECT_EQ(layout.gpus(), 16);
  EXPECT_EQ(layout.stage_of(9), 1);
  EXPECT_EQ(layout.tp_group(3), (std::vector<int>{2, 3}));
  EXPECT_EQ(layout.dense_dp_group(1), (std::vector<int>{1, 3, 5, 7}));
  // MoE layers fold onto a stage's 8 GPUs: EP groups of 4 consecutive GPUs, 2 of them.
  EXPECT_EQ(layout.ep_groups(), 2);
  EXPECT_EQ(layout.ep_group(1, 1), (std::vector<int>{12, 13, 14, 15}));
  EXPECT_EQ(layout.expert_dp_group(0, 1), (std::vector<int>{1, 5}));
  const RankCoordinates c = layout.coordinates(13);
  EXPECT_EQ(c.pp, 1);
  EXPECT_EQ(c.tp, 1);
  EXPECT_EQ(c.dp, 2);
  EXPECT_EQ(c.ep, 1);
  EXPECT_EQ(c.edp, 1);
}

TEST(ParallelLayout, SpreadEpGroupsStrideOverTheStageAndKeepEachExpertsReplicasTogether) {
  Parallelism p;
  p.dp = 16, p.ep = 4, p.ep_layout = EpLayout::kSpread;
  const ParallelLayout spread(p);
  EXPECT_EQ(spread.ep_groups(), 4);
  EXPECT_EQ(spread.ep_group(0, 0), (std::vector<int>{0, 4, 8, 12}));
  EXPECT_EQ(spread.ep_group(0, 3), (std::vector<int>{3, 7, 11, 15}));
  EXPECT_EQ(spread.expert_dp_group(0, 1), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(spread.coordinates(6).ep, 1);
  EXPECT_EQ(spread.coordinates(6).edp, 2);
  EXPECT_EQ(spread.ep_ranks_per_node(8), 2);  // GPUs 0 and 4 of 8 share node 0
  p.ep_layout = EpLayout::kPacked;
  const ParallelLayout packed(p);
  EXPECT_EQ(packed.ep_group(0, 1), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(packed.expert_dp_group(0, 1), (std::vector<int>{1, 5, 9, 13}));
  EXPECT_EQ(packed.ep_ranks_per_node(8), 4);
  EXPECT_EQ(packed.ep_ranks_per_node(2), 2);
}

TEST(ParallelLayout, SpreadingEpGroupsTakesTheirAllToAllsAcrossNodes) {
  // 4 nodes x 8 H100, EP 8 of a 32-GPU stage: packed, an EP group is a node; spread, it has two
  // GPUs on each of the 4 nodes, and the routing view's ranks follow its GPUs.
  auto run = [](const char* layout) {
    const scenarios::Scenario s = scenarios::load_scenario_text(
        std::string("cluster: {preset: h100-dgx, nodes: 4}\nmodel: {preset: qwen3-30b-a3b, layers: 4}\n"
                    "parallelism: {ep: 8, ep_layout: ") +
            layout + "}\ntraining: {global_batch: 32, micro_batch: 1, seq_len: 4096}\ngating: {source: balanced}\n",
        "layout.yaml");
    const auto placement =
        policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
    const gating::RoutingView view = routing_view(s, placement);
    StepSimulator sim(step_config(s));
    return std::pair{view.node_of_rank, simulate_step(s, sim)};
  };
  const auto [packed_nodes, packed] = run("packed");
  const auto [spread_nodes, spread] = run("spread");
  EXPECT_EQ(std::vector<int>(packed_nodes.begin(), packed_nodes.begin() + 8), std::vector<int>(8, 0));
  EXPECT_EQ(std::vector<int>(spread_nodes.begin(), spread_nodes.begin() + 8), (std::vector<int>{0, 0, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(packed.a2a_inter_node, Bytes());
  EXPECT_GT(spread.a2a_inter_node, spread.a2a_intra_node);
  EXPECT_NEAR((spread.a2a_inter_node + spread.a2a_intra_node).count(), packed.a2a_intra_node.count(), 1e-6 * packed.a2a_intra_node.count());
}

TEST(ParallelLayout, LayersSplitEvenlyWithTheRemainderInTheMiddle) {
  EXPECT_EQ(split_layers(8, 4), (std::vector<std::vector<int>>{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  const auto split = split_layers(94, 96);  // Megatron's account for embedding and loss
  EXPECT_TRUE(split.front().empty());
  EXPECT_TRUE(split.back().empty());
  EXPECT_EQ(split[1], std::vector<int>{0});
}

TEST(Schedule, OneForwardOneBackwardAfterTheWarmUp) {
  const ScheduleEntry& s = *find_schedule("1f1b");
  const auto first = pipeline_order(s, 0, 4, 1, 8);
  ASSERT_EQ(first.size(), 16u);
  for (int k = 0; k < 3; ++k) EXPECT_FALSE(first[k].backward);  // pp - 1 warm-up forwards
  EXPECT_FALSE(first[3].backward);
  EXPECT_TRUE(first[4].backward);
  EXPECT_EQ(first[4].micro_batch, 0);
  EXPECT_EQ(peak_in_flight(first), 4);
  EXPECT_EQ(peak_in_flight(pipeline_order(s, 3, 4, 1, 8)), 1);
}

TEST(Schedule, InterleavedRunsEveryChunkOfEveryMicroBatchOnceEachWay) {
  const auto order = pipeline_order(*find_schedule("interleaved"), 0, 2, 2, 4);
  ASSERT_EQ(order.size(), 16u);
  int forward[4][2] = {}, backward[4][2] = {};
  for (const auto& op : order) (op.backward ? backward : forward)[op.micro_batch][op.chunk]++;
  for (int mb = 0; mb < 4; ++mb)
    for (int chunk = 0; chunk < 2; ++chunk) EXPECT_EQ(forward[mb][chunk] + 10 * backward[mb][chunk], 11);
  // Megatron's warm-up on the first stage: (pp - 1) x 2 + (vp - 1) x pp forwards, then one more.
  EXPECT_EQ(peak_in_flight(order), 5);
}

TEST(Schedule, OverlapPairsForwardsWithBackwardsOfOtherMicroBatches) {
  const auto order = pipeline_order(*find_schedule("overlap"), 0, 4, 1, 8);
  int pairs = 0;
  for (size_t i = 1; i < order.size(); ++i) {
    if (!order[i].overlaps_previous) continue;
    ++pairs;
    EXPECT_TRUE(order[i].backward);
    EXPECT_FALSE(order[i - 1].backward);
    EXPECT_NE(order[i].micro_batch, order[i - 1].micro_batch);
  }
  EXPECT_EQ(pairs, 5);  // the steady state: 8 - 3 pairs
  // The last stage's steady forward and backward are of one micro-batch: they cannot overlap.
  for (const auto& op : pipeline_order(*find_schedule("overlap"), 3, 4, 1, 8)) EXPECT_FALSE(op.overlaps_previous);
  // Without a pipeline, one forward runs ahead: micro-batch k + 1's forward beside k's backward,
  // two micro-batches in flight (Megatron's combined 1F1B without pipelining).
  const auto alone = pipeline_order(*find_schedule("overlap"), 0, 1, 1, 4);
  ASSERT_EQ(alone.size(), 8u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(alone[1 + 2 * k].micro_batch, k + 1);
    EXPECT_FALSE(alone[1 + 2 * k].backward);
    EXPECT_EQ(alone[2 + 2 * k].micro_batch, k);
    EXPECT_TRUE(alone[2 + 2 * k].backward && alone[2 + 2 * k].overlaps_previous);
  }
  EXPECT_EQ(peak_in_flight(alone), 2);
  EXPECT_EQ(peak_in_flight(pipeline_order(*find_schedule("1f1b"), 0, 1, 1, 4)), 1);
}

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

TEST(TaskTag, KeepsKindPassLayerAndMicroBatch) {
  const uint32_t tag = task_tag(TaskKind::kCombine, 4000, 4095, true);
  EXPECT_EQ(tag_kind(tag), TaskKind::kCombine);
  EXPECT_TRUE(tag_backward(tag));
  EXPECT_EQ(tag_layer(tag), 4000);
  EXPECT_EQ(tag_micro_batch(tag), 4095);
}

TEST(PipelineStep, OneForwardOneBackwardBubbleIsPMinusOneOverMPlusPMinusOne) {
  const StepResult r = run_step(pipeline({}));
  EXPECT_NEAR(r.bubble / r.step_time, 3.0 / (8 + 3), 0.02);
  // Nothing to hide: the sends between stages are all the communication there is.
  EXPECT_LT(r.exposed_comm / r.step_time, 0.02);
}

TEST(PipelineStep, InterleavingShrinksTheBubbleByTheVirtualStages) {
  const StepResult plain = run_step(pipeline({}));
  const StepResult interleaved = run_step(pipeline({"parallelism.vp=2"}));
  // Megatron: the bubble's time divided by vp, so its share (p - 1) / vp / (m + (p - 1) / vp).
  EXPECT_NEAR(interleaved.bubble / interleaved.step_time, 1.5 / (8 + 1.5), 0.03);
  EXPECT_LT(interleaved.step_time, plain.step_time);
}

TEST(PipelineStep, OverlapHidesAllToAllsBehindTheOtherMicroBatchsCompute) {
  // With model chunks a stage has a forward and a backward of different micro-batches ready at
  // once; with one chunk per GPU 1F1B's dependencies leave them little to overlap.
  const StepResult plain = run_step(all_to_all_heavy("interleaved", {"parallelism.vp=2"}));
  const StepResult overlapped = run_step(all_to_all_heavy("overlap", {"parallelism.vp=2"}));
  EXPECT_GT(plain.exposed_comm / plain.step_time, 0.2);
  EXPECT_LT(overlapped.exposed_comm, plain.exposed_comm * 0.9);
  EXPECT_LT(overlapped.step_time, plain.step_time * 0.97);
  // The communication kernels' SMs slow the compute they run beside, and only that.
  const StepResult contended = run_step(all_to_all_heavy("overlap", {"parallelism.vp=2", "dispatch.comm_sms=20"}));
  EXPECT_GT(contended.step_time, overlapped.step_time);
  EXPECT_EQ(run_step(all_to_all_heavy("interleaved", {"parallelism.vp=2", "dispatch.comm_sms=20"})).step_time, plain.step_time);
}

TEST(PipelineStep, DualPipeVBubbleIsSmallerAndItsOverlapHidesAllToAlls) {
  // pp 4 and 8 micro-batches, eight one-layer virtual stages: 1F1B idles (p - 1) / (m + p - 1) =
  // 27 %; the V's passes are half as long and its weight-gradient passes fill part of what is
  // left, so it keeps under half of that (about two thirds without them).
  const StepResult plain = run_step(pipeline({}));
  const StepResult v = run_step(pipeline({"schedule=dualpipev", "parallelism.vp=2"}));
  EXPECT_LT(v.bubble / v.step_time, 0.5 * (plain.bubble / plain.step_time));
  EXPECT_GT(v.bubble / v.step_time, 0.1);
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
        if (StepSimulator::comm_stream(lane) == r) pair.push_back(lane), stages.push_back(lanes.gpu[lane]);  // one GPU per stage
      }
    }
    ASSERT_EQ(stages.size(), 2u);
    EXPECT_EQ(stages[0] + stages[1], 3) << "layer " << layer;
    for (engine::TaskId u = 0; u < graph.task_count(); ++u) {
      const auto on = graph.resources(u);
      if (on.size() != 1 || tag_layer(graph.tag(u)) != layer || !tag_backward(graph.tag(u))) continue;
      for (int lane : pair) {
        if (on[0] == StepSimulator::compute_stream(lane)) EXPECT_LE(schedule.tasks[u].end, schedule.tasks[t].start) << "layer " << layer;
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

TEST(PipelineStep, OverlapWithoutAPipelineHidesAllToAllsBehindTheNextMicroBatch) {
  const StepResult plain = run_step(all_to_all_heavy("1f1b", {"parallelism.pp=1"}));
  const StepResult overlapped = run_step(all_to_all_heavy("overlap", {"parallelism.pp=1"}));
  EXPECT_LT(overlapped.exposed_comm, plain.exposed_comm * 0.8);
  EXPECT_LT(overlapped.step_time, plain.step_time);
}

TEST(PipelineStep, Zero3PrefetchesEachLayersGatherBehindTheLayerBefore) {
  // One node, dense gathers over NVLink well shorter than a layer's compute: prefetched, they
  // hide behind it, and ZeRO 3 costs little more than ZeRO 1; waited for, they would add their
  // whole time (every layer, every micro-batch, forward and backward).
  const auto one_node = [](const char* zero) {
    return run_step(scenarios::load_scenario_text(
        std::string("cluster: {preset: h100-dgx, nodes: 1}\nmodel: {preset: qwen3-30b-a3b, layers: 8}\n"
                    "parallelism: {ep: 8, zero: ") +
            zero + "}\ntraining: {global_batch: 32, micro_batch: 1, seq_len: 4096}\ngating: {source: balanced}\n",
        "fsdp.yaml"));
  };
  const StepResult zero1 = one_node("1"), zero3 = one_node("3");
  const Duration compute = zero3.compute_busy[0];
  EXPECT_LT(zero3.step_time, zero1.step_time * 1.05);
  EXPECT_LT(zero3.exposed_comm, zero1.exposed_comm + compute * 0.03);
}

TEST(PipelineStep, FullRecomputationRunsTheForwardAllToAllsAgain) {
  auto dispatches = [](const std::vector<std::string>& overrides) {
    const scenarios::Scenario s = all_to_all_heavy("1f1b", overrides);
    gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts);
    make_gating_source(s)->next(0, routing);
    StepSimulator sim(step_config(s));
    const StepResult r = sim.simulate(routing, policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep},
                                                                          policies::StaticLayout::kContiguous));
    int n = 0;
    for (engine::TaskId t = 0; t < sim.graph().task_count(); ++t) n += tag_kind(sim.graph().tag(t)) == TaskKind::kDispatch;
    return std::pair{n, r.a2a_inter_node.count()};
  };
  const auto [kept, kept_bytes] = dispatches({});
  const auto [full, full_bytes] = dispatches({"parallelism.recompute=full"});
  EXPECT_EQ(full * 2, kept * 3);
  EXPECT_DOUBLE_EQ(full_bytes * 2, kept_bytes * 3);
}

TEST(PipelineStep, ComputeBubbleAndExposedCommunicationAddUpToTheStep) {
  const StepResult r = run_step(all_to_all_heavy("1f1b"));
  double busy = 0;
  for (Duration d : r.compute_busy) busy += d.seconds();
  busy /= static_cast<double>(r.compute_busy.size());
  EXPECT_NEAR(busy + r.bubble.seconds() + r.exposed_comm.seconds(), r.step_time.seconds(), 1e-9);
}

// Schedules one step's DAG on `lanes`; its makespan.
Duration makespan(const StepConfig& c, const gating::RoutingMatrix& routing, bool every) {
  auto network = network::make_network_model(c.cluster);
  const StepCosts costs = step_costs(c, *network);
  const auto placement =
      policies::static_placement({c.model.moe_layer_count(), c.model.experts, c.parallel.ep}, policies::StaticLayout::kContiguous);
  StepResult result;
  std::vector<LayerTraffic> layers(c.model.moe_layer_count());
  for (int l = 0; l < c.model.moe_layer_count(); ++l) layer_traffic(c, costs, *network, routing, placement.layers[l], l, layers[l], result);
  MigrationTraffic migration;
  migration_traffic(costs, *network, {}, migration, result);
  const Lanes lanes = every ? every_gpu(costs) : identical_gpus(costs, layers, migration);
  EXPECT_EQ(lanes.count() < costs.gpus, !every);
  engine::TaskGraph graph;
  build_step_dag(c, costs, lanes, layers, migration, *network, graph);
  engine::TaskGraphExecutor executor;
  engine::Schedule schedule;
  executor.execute(graph, schedule);
  return schedule.makespan.since_start();
}

TEST(Lanes, SimulatingOneOfEachSetOfIdenticalGpusChangesNothing) {
  const StepConfig c = step_config(all_to_all_heavy("1f1b", {"parallelism.ep=8"}));
  // Skewed loads that differ per rank within an EP group, the two EP groups of a stage alike.
  gating::RoutingMatrix routing(c.model.moe_layer_count(), c.parallel.stage_gpus(), c.model.experts);
  for (int l = 0; l < routing.layers(); ++l)
    for (int r = 0; r < routing.ranks(); ++r)
      for (int e = 0; e < routing.experts(); ++e) routing.row(l, r)[e] = 100 + (e * 7 + (r % 8) * 13 + l) % 200;
  EXPECT_EQ(makespan(c, routing, true), makespan(c, routing, false));
}

TEST(PipelineStep, ExpertTensorParallelismSplitsEachExpertOverItsGroup) {
  // 16 GPUs per stage: EP 8 x expert-DP 2, or EP 8 x ETP 2. Either way each GPU computes the FLOPs
  // of the same share of tokens, but ETP gathers the group's tokens and scatters their outputs.
  const StepConfig plain = step_config(all_to_all_heavy("1f1b", {"parallelism.ep=8"}));
  const StepConfig split = step_config(all_to_all_heavy("1f1b", {"parallelism.ep=8", "parallelism.etp=2"}));
  gating::RoutingMatrix routing(plain.model.moe_layer_count(), plain.parallel.stage_gpus(), plain.model.experts);
  const int64_t each = plain.tokens_per_rank * plain.model.top_k / plain.model.experts;
  for (int l = 0; l < routing.layers(); ++l)
    for (int r = 0; r < routing.ranks(); ++r)
      for (int e = 0; e < routing.experts(); ++e) routing.row(l, r)[e] = static_cast<int32_t>(each);
  const auto placement =
      policies::static_placement({plain.model.moe_layer_count(), plain.model.experts, 8}, policies::StaticLayout::kContiguous);
  StepSimulator a(plain), b(split);
  a.simulate(routing, placement);
  b.simulate(routing, placement);
  auto count = [](const StepSimulator& sim, TaskKind kind) {
    int n = 0;
    Duration total;
    for (engine::TaskId t = 0; t < sim.graph().task_count(); ++t) {
      if (tag_kind(sim.graph().tag(t)) == kind && sim.graph().resources(t)[0] == StepSimulator::compute_stream(0))
        ++n, total += sim.graph().duration(t);
    }
    return std::pair{n, total};
  };
  const auto [plain_experts, plain_time] = count(a, TaskKind::kExperts);
  const auto [split_experts, split_time] = count(b, TaskKind::kExperts);
  EXPECT_EQ(plain_experts, split_experts);
  // Twice the rows at half the width each: the same FLOPs, a little more efficient.
  EXPECT_LE(split_time, plain_time);
  EXPECT_GT(split_time.seconds(), plain_time.seconds() * 0.8);
  int etp_tasks = 0;
  for (engine::TaskId t = 0; t < b.graph().task_count(); ++t) etp_tasks += tag_kind(b.graph().tag(t)) == TaskKind::kExpertTensorParallel;
  EXPECT_GT(etp_tasks, 0);
  // Each GPU holds half of each of its experts' weights.
  auto weights = [](const StepConfig& c) { return gpu_memory(c).stages[0].terms[0].bytes; };
  EXPECT_LT(weights(split), weights(plain));
}

TEST(MemoryModel, ShardsAsZeroSaysAndRecomputationShrinksActivations) {
  auto term = [](const GpuMemory& m, const std::string& what) {
    for (const auto& t : m.stages[0].terms)
      if (t.what == what) return t.bytes;
    return -1.0;
  };
  const auto at = [](const std::vector<std::string>& overrides) {
    auto s = scenarios::load_scenario_text(
        "cluster: {preset: h100-dgx, nodes: 4}\nmodel: {preset: qwen3-30b-a3b, layers: 8}\nparallelism: {pp: 2, ep: 16}\n"
        "training: {global_batch: 64, micro_batch: 1, seq_len: 4096}\n",
        "memory.yaml", overrides);
    return gpu_memory(step_config(s));
  };
  const GpuMemory plain = at({}), zero1 = at({"parallelism.zero=1"}), zero3 = at({"parallelism.zero=3"}),
                  full = at({"parallelism.recompute=full"});
  // ZeRO-1 shards the optimizer state only; the experts' over their expert-data-parallel group,
  // which is 1 here (dp 16, ep 16), so only the dense part shrinks.
  EXPECT_LT(term(zero1, "optimizer state"), term(plain, "optimizer state"));
  EXPECT_GT(term(zero1, "optimizer state"), term(plain, "optimizer state") / 16);
  EXPECT_EQ(term(zero1, "weights"), term(plain, "weights"));
  EXPECT_EQ(term(zero1, "gradients"), term(plain, "gradients"));
  EXPECT_LT(term(zero3, "gradients"), term(plain, "gradients"));
  EXPECT_LT(term(zero3, "weights"), term(plain, "weights"));
  // ZeRO-3 gathers one unit whole, the next prefetched beside it, and holds its whole gradient:
  // here the largest unit is the embedding (151,936 x 2,048), more than a layer with its 8 experts.
  const double embedding = 151936.0 * 2048, grad = models::model_preset("qwen3-30b-a3b")->grad_bytes_per_param;
  EXPECT_DOUBLE_EQ(term(zero3, "gathered layers"), embedding * (2 * 2 + grad));
  EXPECT_EQ(term(zero1, "gathered layers"), -1.0);
  // Full recomputation keeps each layer's input and one layer's activations at a time, against
  // 2 micro-batches x 4 layers' worth.
  EXPECT_LT(term(full, "activations"), term(plain, "activations") / 5);
  EXPECT_GT(term(full, "activations"), term(plain, "activations") / 8);
  // 1F1B: the first of two stages holds two micro-batches in flight, the last one.
  EXPECT_EQ(plain.stages[0].in_flight, 2);
  EXPECT_EQ(plain.stages[1].in_flight, 1);
}

TEST(MemoryModel, LogitsKeptAsTheLossKeepsThem) {
  const auto logits = [](const std::string& cross_entropy) {
    const auto s = scenarios::load_scenario_text(
        "cluster: {preset: h100-dgx, nodes: 1}\nmodel: {preset: qwen3-30b-a3b, layers: 4}\nparallelism: {tp: 2, pp: 2, ep: 2}\n"
        "training: {global_batch: 8, micro_batch: 1, seq_len: 4096, cross_entropy: " +
            cross_entropy + "}\n",
        "logits.yaml");
    const GpuMemory memory = gpu_memory(step_config(s));
    for (const auto& t : memory.stages[1].terms)
      if (t.what == "LM head logits") return t.bytes;
    return -1.0;
  };
  // One micro-batch of 4,096 tokens, the vocabulary (151,936) split over tp 2: BF16 and FP32
  // copies (6 bytes each) or one BF16 tensor (2 bytes).
  const double entries = 4096.0 * 151936 / 2;
  EXPECT_DOUBLE_EQ(logits("fp32"), entries * 6);
  EXPECT_DOUBLE_EQ(logits("bf16"), entries * 2);
}

TEST(PipelineStep, ImbalanceStretchesStagesAndPlacementGainsShowPerGpu) {
  // Skewed routing through a 2-stage pipeline: the hottest GPU of each stage holds up its stage,
  // hence the pipeline; packing experts from the coming loads (oracle) wins it back.
  const auto s = scenarios::load_scenario_text(R"(
steps: 16
cluster: {preset: h100-dgx, nodes: 2}
model: {preset: gpt3-350m-moe}
parallelism: {pp: 2, ep: 8}
training: {global_batch: 64, micro_batch: 2, seq_len: 2048}
gating: {source: skewed, zipf_s: 0.8}
policies: [{placement: static}, {placement: oracle, warmup: 1, horizon: 8, rebalance_every: 8}]
)",
                                               "skewed-pipeline.yaml");
  auto source = make_gating_source(s);
  const RunResult run = run_scenario(s, *source);
  const auto summary = summarize(s, run);
  ASSERT_EQ(summary.size(), 2u);
  EXPECT_GT(summary[0].imbalance, 1.5);
  EXPECT_LT(summary[1].imbalance, summary[0].imbalance * 0.8);
  EXPECT_GT(summary[1].tokens_per_gpu, summary[0].tokens_per_gpu * 1.03);
  EXPECT_LT(summary[1].bubble_share, summary[0].bubble_share);
}

TEST(PipelineStep, DeepSeekV3ChunkAgainstDeepSeeksOwnProfile) {
  // ../shared/reference/hardware.md, "Real per-layer timing": DeepSeek-V3 on H800, EP64, 4 MoE
  // layers per chunk, 4,096 tokens per rank, routing forced to balance; one forward and one
  // backward chunk: 118.2 ms of compute kernels, 114.5 ms of communication kernels (DualPipe
  // overlaps them; here they are summed per stream, which does not depend on the schedule).
  const auto s = scenarios::load_scenario_text(R"(
cluster: {preset: h800-dgx, nodes: 8}
model: {preset: deepseek-v3, layers: 4, first_moe_layer: 0}
parallelism: {ep: 64}
training: {global_batch: 64, micro_batch: 1, seq_len: 4096}
gating: {source: balanced}
)",
                                               "deepseek-v3-chunk.yaml");
  gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts);
  make_gating_source(s)->next(0, routing);
  StepSimulator sim(step_config(s));
  sim.simulate(routing, policies::static_placement({s.model.moe_layer_count(), s.model.experts, 64}, policies::StaticLayout::kContiguous));
  Duration compute, communication;
  for (engine::TaskId t = 0; t < sim.graph().task_count(); ++t) {
    const TaskKind kind = tag_kind(sim.graph().tag(t));
    const auto streams = sim.graph().resources(t);
    if (kind == TaskKind::kLmHead || kind == TaskKind::kOptimizer) continue;
    if (streams[0] == StepSimulator::compute_stream(0)) compute += sim.graph().duration(t);
    if ((kind == TaskKind::kDispatch || kind == TaskKind::kCombine) && streams[0] == StepSimulator::comm_stream(0)) {
      communication += sim.graph().duration(t);
    }
  }
  EXPECT_NEAR(compute / Milliseconds(1), 118.2, 118.2 * 0.2);
  EXPECT_NEAR(communication / Milliseconds(1), 114.5, 114.5 * 0.2);
}

}  // namespace
}  // namespace moesim
