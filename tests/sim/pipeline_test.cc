// Pipeline schedules and what they do to a step (parallel_layout_test.cc has the layouts,
// dualpipe_test.cc DeepSeek's schedules): the bubble comes out of the DAG and matches the textbook
// fractions where those are exact; overlapping hides all-to-alls;
// simulating one GPU per set of identical GPUs changes nothing; the memory model shards and
// recomputes as the keys say.
#include <gtest/gtest.h>

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

// Gradient accumulation as PyTorch runs it: the schedule over 2 micro-batches, four times over. The
// first stage holds 2 micro-batches at most, where one run over all 8 holds pp = 4.
TEST(Schedule, RepeatedRunsEachFillAndDrainThePipeline) {
  const ScheduleEntry& s = *find_schedule("1f1b");
  const auto order = repeated_pipeline_order(s, 0, 4, 1, 8, 4);
  const auto run = pipeline_order(s, 0, 4, 1, 2);
  ASSERT_EQ(order.size(), 4 * run.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const PipelineOp& op = order[i];
    EXPECT_EQ(op.micro_batch, run[i % run.size()].micro_batch + 2 * static_cast<int>(i / run.size()));
    EXPECT_EQ(op.backward, run[i % run.size()].backward);
  }
  EXPECT_EQ(peak_in_flight(order), 2);
  EXPECT_EQ(peak_in_flight(repeated_pipeline_order(s, 0, 4, 1, 8, 1)), 4);
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

// What a stage holds at once, chunk by chunk: a light chunk (1) and a heavy one (10). The count's
// peak (3 chunks) times the heavier chunk would be 30; the chunks in flight at the peak hold 12. A
// backward that defers its weight gradients frees nothing until they run.
TEST(Schedule, ActivationsPeakChunkByChunk) {
  auto op = [](int mb, int chunk, bool backward, bool defers = false, bool weights = false) {
    PipelineOp o;
    o.micro_batch = mb, o.chunk = chunk, o.backward = backward, o.defers_weights = defers, o.weights = weights;
    return o;
  };
  const std::vector<PipelineOp> order{op(0, 0, false), op(0, 1, false), op(1, 0, false), op(0, 1, true), op(0, 0, true), op(1, 0, true)};
  const std::vector<double> bytes{1, 10};
  EXPECT_EQ(peak_in_flight(order), 3);
  EXPECT_DOUBLE_EQ(peak_in_flight_bytes(order, bytes), 12);
  const std::vector<PipelineOp> deferred{op(0, 1, false), op(0, 1, true, true), op(1, 1, false), op(0, 1, false, false, true)};
  EXPECT_DOUBLE_EQ(peak_in_flight_bytes(deferred, bytes), 20);
  // A transient of the light chunk's backward: after it frees (1 held, then none), or before.
  const auto with = [&](const std::vector<PipelineOp>& o, BackwardTransient t) { return peak_in_flight_bytes(o, bytes, {&t, 1}); };
  EXPECT_DOUBLE_EQ(with(order, {0, 5, false}), 12);
  EXPECT_DOUBLE_EQ(with(order, {0, 15, false}), 16);
  EXPECT_DOUBLE_EQ(with(order, {0, 15, true}), 17);
  EXPECT_DOUBLE_EQ(with(order, {1, 5, true}), 17);
  // Deferred, it comes with the weight gradients, which free the chunk.
  EXPECT_DOUBLE_EQ(with(deferred, {1, 3, false}), 20);
  EXPECT_DOUBLE_EQ(with(deferred, {1, 3, true}), 23);
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

// Two runs of the schedule over 4 micro-batches each: each fills and drains the 4 stages, so the
// step takes 2 x (4 + 3) micro-batch times where one run over 8 takes 8 + 3. Without a pipeline
// the runs change nothing.
TEST(PipelineStep, EachRunOfTheScheduleFillsThePipelineAgain) {
  const StepResult one = run_step(pipeline({}));
  const StepResult two = run_step(pipeline({"training.local_batch=4"}));
  EXPECT_NEAR(two.bubble / two.step_time, 6.0 / 14, 0.02);
  EXPECT_NEAR(two.step_time / one.step_time, 14.0 / 11, 0.02);
  const StepResult flat = run_step(pipeline({"parallelism.pp=1"}));
  EXPECT_EQ(run_step(pipeline({"parallelism.pp=1", "training.local_batch=1"})).step_time, flat.step_time);
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
  // So does Megatron's checkpointed MoE layer (recompute module moe), and no other module.
  const auto [moe, moe_bytes] = dispatches({"parallelism.recompute=selective", "parallelism.recompute_modules=[moe]"});
  EXPECT_EQ(moe * 2, kept * 3);
  EXPECT_DOUBLE_EQ(moe_bytes * 2, kept_bytes * 3);
  const auto [others, others_bytes] =
      dispatches({"parallelism.recompute=selective", "parallelism.recompute_modules=[core_attn, layernorm, moe_act]"});
  EXPECT_EQ(others, kept);
  EXPECT_DOUBLE_EQ(others_bytes, kept_bytes);
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
  engine::SharedCapacity* shared = network->begin_step();  // before the DAG hands it its collectives
  build_step_dag(c, costs, lanes, layers, migration, *network, graph);
  engine::TaskGraphExecutor executor;
  engine::Schedule schedule;
  executor.execute(graph, schedule, shared);
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
  // Without the compute model's width term first: only the rows differ.
  const StepConfig plain = step_config(all_to_all_heavy("1f1b", {"parallelism.ep=8", "cluster.gpu.gemm_half_width=0"}));
  const StepConfig split =
      step_config(all_to_all_heavy("1f1b", {"parallelism.ep=8", "parallelism.etp=2", "cluster.gpu.gemm_half_width=0"}));
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
  // With the width term, this model's narrow experts (2,048 x 768) split in two lose more than the rows gain.
  StepSimulator wide(step_config(all_to_all_heavy("1f1b", {"parallelism.ep=8"}))),
      narrow(step_config(all_to_all_heavy("1f1b", {"parallelism.ep=8", "parallelism.etp=2"})));
  wide.simulate(routing, placement);
  narrow.simulate(routing, placement);
  EXPECT_GT(count(narrow, TaskKind::kExperts).second, count(wide, TaskKind::kExperts).second);
  int etp_tasks = 0;
  for (engine::TaskId t = 0; t < b.graph().task_count(); ++t) etp_tasks += tag_kind(b.graph().tag(t)) == TaskKind::kExpertTensorParallel;
  EXPECT_GT(etp_tasks, 0);
  // Each GPU holds half of each of its experts' weights.
  auto weights = [](const StepConfig& c) { return gpu_memory(c).stages[0].terms[0].bytes; };
  EXPECT_LT(weights(split), weights(plain));
}

TEST(PipelineStep, AnExpertTensorParallelGatherPaysOnePassOfLatencyRoundItsGroup) {
  // An ETP group of 2 GPUs in one node gathers its rows as a ring all-gather: one pass of one
  // intra-node hop. Raising the NVLink latency by 2 us lengthens each gather by exactly 2 us (an
  // all-reduce of half the bytes, two passes, would take 4 us more for the same bandwidth). Not by
  // much more: past about 7 us, the shortest path between two GPUs of a node goes through the NICs.
  const auto gather_time = [](const char* latency) {
    const scenarios::Scenario s =
        all_to_all_heavy("1f1b", {"parallelism.ep=8", "parallelism.etp=2", std::string("cluster.intra_node.latency=") + latency});
    StepSimulator sim(step_config(s));
    simulate_step(s, sim);
    for (engine::TaskId t = 0; t < sim.graph().task_count(); ++t) {
      if (tag_kind(sim.graph().tag(t)) == TaskKind::kExpertTensorParallel) return sim.graph().duration(t);
    }
    return Duration();
  };
  const Duration fast = gather_time("2 us"), slow = gather_time("4 us");
  ASSERT_GT(fast, Duration());
  EXPECT_EQ(slow - fast, Microseconds(2));
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

// Every tensor counted once, by what saves it. A dense GPT layer (multi-head attention, a 4h
// GELU FFN, BF16) keeps 32 h + 4 a bytes a token: Korthikanti et al.'s 34 s b h + 5 a s² b a layer
// (arXiv 2205.05198, equation 1) without its two dropout masks and, under FlashAttention, its
// s x s scores, whose softmax FlashAttention keeps as one FP32 log-sum-exp a head. An MoE layer
// keeps the same attention and norms, the router's FP32 logits, and per routed expert the token's
// dispatched copy and its FFN's inner tensors, not its output.
TEST(MemoryModel, ActivationsAsEachTensorIsSaved) {
  const auto s = scenarios::load_scenario_text(
      "cluster: {preset: h100-dgx, nodes: 1}\n"
      "model: {preset: gpt3-125m-moe, layers: 2, first_moe_layer: 1, moe_every: 1, hidden: 1024, heads: 16, kv_heads: 16,\n"
      "        ffn_hidden: 4096, gated_ffn: false, expert_ffn_hidden: 512, experts: 8, top_k: 2, shared_experts: 0}\n"
      "parallelism: {ep: 8}\ntraining: {global_batch: 8, micro_batch: 1, seq_len: 1024}\n",
      "activations.yaml");
  const GpuMemory memory = gpu_memory(step_config(s));
  ASSERT_EQ(memory.stages.size(), 1u);
  EXPECT_EQ(memory.stages[0].in_flight, 1);
  const double activations = memory.stages[0].bytes_of("activations");
  const double h = 1024, rows = 1024;
  const double heads = 16, dense_layer = 32 * h + 4 * heads;
  // Attention and both norms as the dense layer's (16 h + 4 a), 8 FP32 logits, and per expert its
  // input (2 h), its GELU's input and output (2 x 512 each).
  const double moe_layer = 16 * h + 4 * heads + 4 * 8 + 2 * (2 * h + 2 * 512 + 2 * 512);
  EXPECT_DOUBLE_EQ(activations, rows * (dense_layer + moe_layer));
}

TEST(MemoryModel, LogitsKeptAsTheLossKeepsThem) {
  const auto logits = [](const std::string& cross_entropy) {
    const auto s = scenarios::load_scenario_text(
        "cluster: {preset: h100-dgx, nodes: 1}\nmodel: {preset: qwen3-30b-a3b, layers: 4}\nparallelism: {tp: 2, pp: 2, ep: 2}\n"
        "training: {global_batch: 8, micro_batch: 1, seq_len: 4096, cross_entropy: " +
            cross_entropy + "}\n",
        "logits.yaml");
    return gpu_memory(step_config(s)).stages[1].bytes_of("LM head");
  };
  // One micro-batch of 4,096 tokens, the vocabulary (151,936) split over tp 2: BF16 and FP32
  // copies (6 bytes each) or one BF16 tensor (2 bytes); beside them the final norm's and the
  // head's inputs, the sequence shard of 2,048 tokens of 2,048 in BF16 each.
  const double entries = 4096.0 * 151936 / 2, inputs = 2 * 2048.0 * 2048 * 2;
  EXPECT_DOUBLE_EQ(logits("fp32"), entries * 6 + inputs);
  EXPECT_DOUBLE_EQ(logits("bf16"), entries * 2 + inputs);
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
  // overlaps them; here they are summed per stream, which does not depend on the schedule: each
  // collective's time alone, its NICs not shared with the gradient reductions beside it).
  const auto s = scenarios::load_scenario_text(R"(
cluster: {preset: h800-dgx, nodes: 8, network: {share_nics: false}}
model: {preset: deepseek-v3, layers: 4, mtp_layers: 0, first_moe_layer: 0}
parallelism: {ep: 64}
training: {global_batch: 64, micro_batch: 1, seq_len: 4096}
dispatch: {dtype: fp8}
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
