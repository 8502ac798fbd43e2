// DeepSeek-V3's multi-token prediction modules (model.mtp_layers): each a projection of the last
// hidden state and the next token's embedding, one more layer and one more LM head pass, on the
// last virtual stage (or one of their own before it, where parallelism.pipeline_layout says so),
// with their weights, activations and logits there.
#include <gtest/gtest.h>

#include <map>

#include "models/presets.h"
#include "scenarios/loader/loader.h"
#include "sim/network/network_model.h"
#include "sim/step/compute_model.h"
#include "sim/step/gemm_shapes.h"
#include "sim/step/lanes.h"
#include "sim/step/memory_model.h"
#include "sim/step/step_costs.h"
#include "sim/step/step_simulator.h"
#include "sim/step/task_kind.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

TEST(PredictionModule, DeepSeekV3HasOneAsItsConfigSays) {
  EXPECT_EQ(models::model_preset("deepseek-v3")->mtp_layers, 1);
  EXPECT_EQ(models::model_preset("qwen3-235b-a22b")->mtp_layers, 0);
}

// In BF16 (nothing to quantize) and without recomputation: the projection, 2·hidden -> hidden
// over the TP group's gathered rows, and four memory-bound kernels over 20·hidden bytes a row
// (two norms, the concatenation, the final norm); the backward pass twice the forward.
TEST(PredictionModule, CostsItsProjectionAndItsNorms) {
  const StepConfig c = step_config(pipeline({"model.mtp_layers=1", "parallelism.tp=2", "parallelism.pp=2"}));
  auto network = network::make_network_model(c.cluster);
  const StepCosts costs = step_costs(c, *network);
  const double h = c.model.hidden, rows = costs.rows, gemm_rows = rows * 2;
  const GemmShape projection{h / 2, 2 * h};
  const Duration gemm =
      kernel_time(c.cluster.gpu, models::Dtype::kBf16,
                  KernelWork{Flops(2 * 2 * h * h * rows), gemm_traffic({&projection, 1}, models::Dtype::kBf16).at(gemm_rows), gemm_rows,
                             width_factor(c.cluster.gpu, {&projection, 1})});
  EXPECT_EQ(costs.mtp_wgrad, gemm);
  EXPECT_EQ(costs.mtp_fwd, gemm + elementwise_time(c.cluster.gpu, Bytes(20 * h * rows), 4));
  EXPECT_EQ(costs.mtp_bwd, costs.mtp_fwd * 2);
  const StepCosts none = step_costs(step_config(pipeline({"parallelism.tp=2", "parallelism.pp=2"})), *network);
  EXPECT_EQ(none.mtp_fwd, Duration());
}

// GPT-3 125M cut to 8 layers and one module on PP 4: the split counts the module (9 layers:
// 2, 3, 2, 2), which runs on the last stage after its layer's predecessor, with a second LM head
// pass; nowhere else.
TEST(PredictionModule, RunsOnTheLastStageWithASecondLmHeadPass) {
  const scenarios::Scenario s = pipeline({"model.mtp_layers=1"});
  StepSimulator sim(step_config(s));
  const StepResult with = simulate_step(s, sim);
  EXPECT_GT(with.step_time, run_step(pipeline({})).step_time);
  const engine::TaskGraph& graph = sim.graph();
  const engine::Schedule& schedule = sim.schedule();
  const Lanes& lanes = sim.lanes();
  std::map<std::pair<int, bool>, int> projections, heads;  // by (stage, backward)
  std::map<int, Duration> projected, attended;             // micro-batch -> when the module's projection ends, its layer's attention starts
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const uint32_t tag = graph.tag(t);
    const int stage = lanes.gpu[lane_of_stream(graph.resources(t)[0])];  // one GPU per stage
    if (tag_kind(tag) == TaskKind::kMtpProjection) {
      ++projections[{stage, tag_backward(tag)}];
      EXPECT_EQ(tag_layer(tag), 8);
      if (!tag_backward(tag)) projected[tag_micro_batch(tag)] = schedule.tasks[t].end.since_start();
    }
    if (tag_kind(tag) == TaskKind::kLmHead) ++heads[{stage, false}];
    if (tag_kind(tag) == TaskKind::kAttention && tag_layer(tag) == 8 && !tag_backward(tag)) {
      attended[tag_micro_batch(tag)] = schedule.tasks[t].start.since_start();
    }
  }
  const int micro_batches = 8;
  EXPECT_EQ(projections, (std::map<std::pair<int, bool>, int>{{{3, false}, micro_batches}, {{3, true}, micro_batches}}));
  EXPECT_EQ(heads, (std::map<std::pair<int, bool>, int>{{{3, false}, 2 * micro_batches}}));
  ASSERT_EQ(attended.size(), static_cast<size_t>(micro_batches));
  for (const auto& [mb, start] : attended) EXPECT_LE(projected.at(mb), start) << "micro-batch " << mb;
}

// Three layers and a module against four layers, every layer MoE, on PP 2 with untied embeddings:
// both split as {0, 1} and {2, 3}, and the module's stage holds besides the same layer its
// projection (2·hidden², BF16 weights), the embedding for the next tokens' lookups, its norms' and
// projection's inputs (10·hidden bytes a token in BF16), and a second micro-batch of logits.
TEST(PredictionModule, HoldsItsProjectionEmbeddingActivationsAndLogitsOnTheLastStage) {
  const std::vector<std::string> common{"model.first_moe_layer=0", "model.moe_every=1", "model.tied_embeddings=false", "parallelism.pp=2"};
  auto memory = [&](std::vector<std::string> overrides) {
    overrides.insert(overrides.end(), common.begin(), common.end());
    return gpu_memory(step_config(pipeline(overrides)));
  };
  const GpuMemory with = memory({"model.layers=3", "model.mtp_layers=1"}), without = memory({"model.layers=4"});
  const StepConfig c = step_config(pipeline({"model.layers=3", "model.mtp_layers=1", "model.tied_embeddings=false", "parallelism.pp=2"}));
  const double h = c.model.hidden, vocab = c.model.vocab, rows = static_cast<double>(c.tokens_per_rank) / c.micro_batches;
  for (const char* term : {"weights", "activations", "LM head"})
    EXPECT_EQ(with.stages[0].bytes_of(term), without.stages[0].bytes_of(term)) << term;
  EXPECT_DOUBLE_EQ(with.stages[1].bytes_of("weights") - without.stages[1].bytes_of("weights"), 2.0 * (2 * h * h + vocab * h));
  EXPECT_EQ(with.stages[1].in_flight, 1);
  EXPECT_DOUBLE_EQ(with.stages[1].bytes_of("activations") - without.stages[1].bytes_of("activations"), 10 * h * rows);
  EXPECT_DOUBLE_EQ(with.stages[1].bytes_of("LM head"), 2 * without.stages[1].bytes_of("LM head"));
}

// Megatron's standalone MTP stage: the module on a stage of its own (the third of PP 4), the loss
// alone on the last. The projection runs where the module is, with the embedding copy; the LM
// head's two passes on the last stage; from the module's stage on, the hidden states travel with
// the module's, twice the bytes, both ways.
TEST(PredictionModule, RunsOnAStageOfItsOwnWhereTheLayoutPutsIt) {
  const scenarios::Scenario s =
      pipeline({"model.mtp_layers=1", "model.tied_embeddings=false", "parallelism.pipeline_layout=Et*3|t*3|t*2m|L"});
  const StepConfig c = step_config(s);
  StepSimulator sim(c);
  simulate_step(s, sim);
  const engine::TaskGraph& graph = sim.graph();
  const engine::Schedule& schedule = sim.schedule();
  std::map<std::pair<int, TaskKind>, int> tasks;   // by (stage, kind)
  std::map<std::pair<int, bool>, Duration> sends;  // the longest by (layer it follows, backward)
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const uint32_t tag = graph.tag(t);
    const int stage = sim.lanes().gpu[lane_of_stream(graph.resources(t)[0])];
    ++tasks[{stage, tag_kind(tag)}];
    if (tag_kind(tag) == TaskKind::kPipelineSend) {
      Duration& longest = sends[{tag_layer(tag), tag_backward(tag)}];
      longest = std::max(longest, schedule.tasks[t].end - schedule.tasks[t].start);
    }
  }
  const int micro_batches = 8;
  EXPECT_EQ((tasks[{2, TaskKind::kMtpProjection}]), 2 * micro_batches);
  EXPECT_EQ((tasks[{3, TaskKind::kMtpProjection}]), 0);
  EXPECT_EQ((tasks[{3, TaskKind::kLmHead}]), 2 * micro_batches);
  // Forward sends are tagged with the last layer of the chunk they leave, backward ones with the first.
  const Duration plain = sends.at({5, false}), wide = sends.at({8, false});
  EXPECT_GT(wide, plain);
  EXPECT_EQ(sends.at({6, true}), plain);
  EXPECT_EQ(sends.at({9, true}), wide);  // from the loss's stage, which holds no layer (tagged past the last)
  const models::ParamCounts params = models::param_counts(c.model);
  EXPECT_EQ(mtp_stage(c), 2);
  EXPECT_EQ(mtp_embedding_copy(c, params), params.embedding);
  double modules_stage = params.embedding;
  for (int l : {6, 7, 8}) modules_stage += models::layer_dense_params(c.model, params, l);
  EXPECT_DOUBLE_EQ(stage_params(c, 2).dense, modules_stage);
  EXPECT_DOUBLE_EQ(stage_params(c, 3).dense, params.lm_head);
}

// The module looks up the next tokens' embeddings where it runs: a copy on its stage, unless that
// stage holds the embedding already (one stage; DualPipeV's V; DualPipe, whose last stage of one
// copy is the other's first) or the LM head is the embedding (tied).
TEST(PredictionModule, KeepsAnEmbeddingCopyOnlyWhereItsStageLacksOne) {
  const models::ParamCounts params = models::param_counts(step_config(pipeline({"model.tied_embeddings=false"})).model);
  auto copy = [&](const std::vector<std::string>& overrides) {
    std::vector<std::string> all{"model.mtp_layers=1", "model.tied_embeddings=false"};
    all.insert(all.end(), overrides.begin(), overrides.end());
    return mtp_embedding_copy(step_config(pipeline(all)), params);
  };
  EXPECT_EQ(copy({}), params.embedding);
  EXPECT_EQ(copy({"schedule=interleaved", "parallelism.vp=2"}), params.embedding);
  EXPECT_EQ(copy({"parallelism.pp=1"}), 0);
  EXPECT_EQ(copy({"schedule=dualpipev", "parallelism.vp=2"}), 0);
  EXPECT_EQ(copy({"schedule=dualpipe", "parallelism.vp=2"}), 0);
  EXPECT_EQ(copy({"model.tied_embeddings=true"}), 0);
}

}  // namespace
}  // namespace moesim
