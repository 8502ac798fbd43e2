// The model's two ends besides the LM head's GEMMs: the word embedding's lookup and weight
// gradient on the first stage, the final norm and the loss on the last, each a memory-bound task
// with its sequence-parallel collective, as Megatron runs them.
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "sim/network/network_model.h"
#include "sim/step/compute_model.h"
#include "sim/step/memory_model.h"
#include "sim/step/step_costs.h"
#include "sim/step/step_simulator.h"
#include "sim/step/task_kind.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

StepCosts costs_of(const std::vector<std::string>& overrides) {
  const StepConfig c = step_config(pipeline(overrides));
  auto network = network::make_network_model(c.cluster);
  return step_costs(c, *network);
}

// GPT-3 125M's hidden 768 with a 32,000-word vocabulary on TP 2: each GPU's loss covers the
// sequence's 2,048 tokens x its 16,000 words. Megatron's FP32 loss moves 52 bytes a logit in 9
// kernels (38 forward, 14 backward), a fused one 10 in 3; nothing else of the LM head differs.
TEST(ModelEnds, TheLossMovesItsLogitsThroughHbm) {
  const std::vector<std::string> base{"parallelism.tp=2", "parallelism.pp=2", "model.vocab=32000"};
  auto with = [&](const char* loss) {
    auto overrides = base;
    overrides.push_back(std::string("training.cross_entropy=") + loss);
    return costs_of(overrides);
  };
  const StepCosts upcast = with("fp32"), fused = with("bf16");
  const StepConfig c = step_config(pipeline(base));
  const double logits = 2048.0 * 16000;
  ASSERT_DOUBLE_EQ(upcast.rows * 2 * c.model.vocab / 2, logits);
  const auto& gpu = c.cluster.gpu;
  EXPECT_EQ(upcast.lm_head - elementwise_time(gpu, Bytes(52 * logits), 9), fused.lm_head - elementwise_time(gpu, Bytes(10 * logits), 3));
  // 1.7 GB of FP32 traffic: about 0.6 ms at the H100's 3.35 TB/s, five times the fused kernel's.
  EXPECT_GT(upcast.lm_head - fused.lm_head, Microseconds(400));
}

// On TP 2 each GPU looks up all 2,048 tokens of the sequence in its half of the vocabulary
// (reads of its rows and writes of every row, the others' zeroed: 2 x 2,048 x 768 x 2 bytes);
// backward it reads the sequence's gradients and writes its rows (the same bytes again), zeroes
// its 16,000 x 768 dense gradient (2 bytes an element), and adds it (2 more read) to the main
// gradient (BF16 here: 2 read and 2 written). The final norm reads and writes 2 x 768 x 2 bytes
// of each of its 1,024 rows forward, twice that backward.
TEST(ModelEnds, TheEmbeddingsGradientIsItsVocabularyShardDense) {
  const StepCosts costs = costs_of({"parallelism.tp=2", "parallelism.pp=2", "model.vocab=32000"});
  const auto& gpu = step_config(pipeline({})).cluster.gpu;
  const double sequence = 2 * 2048.0 * 768 * 2, shard = 16000.0 * 768;
  EXPECT_EQ(costs.embedding_fwd, elementwise_time(gpu, Bytes(sequence), 2));
  EXPECT_EQ(costs.embedding_bwd, elementwise_time(gpu, Bytes(sequence + shard * (2 + 2 + 2 * 2)), 4));
  EXPECT_NEAR(costs.final_norm.seconds(), elementwise_time(gpu, Bytes(3 * 2 * 768 * 2 * 1024.0), 3).seconds(), 1e-11);
}

// Tasks by (stage, kind, tag layer, backward) on PP 2 x TP 2, 8 micro-batches.
using Key = std::tuple<int, TaskKind, int, bool>;
std::map<Key, int> ends_of(const scenarios::Scenario& s) {
  StepSimulator sim(step_config(s));
  simulate_step(s, sim);
  const engine::TaskGraph& graph = sim.graph();
  const int layers = s.model.transformer_layers();
  std::map<Key, int> out;
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const uint32_t tag = graph.tag(t);
    const TaskKind kind = tag_kind(tag);
    if (kind != TaskKind::kEmbedding && kind != TaskKind::kLmHead && kind != TaskKind::kTensorParallel && kind != TaskKind::kLossAllReduce)
      continue;
    if (kind == TaskKind::kTensorParallel && tag_layer(tag) < layers) continue;  // the layers' own
    ++out[{sim.lanes().gpu[lane_of_stream(graph.resources(t)[0])] / 2, kind, tag_layer(tag), tag_backward(tag)}];
  }
  return out;
}

// The first stage looks the embedding up and computes its gradient once a micro-batch (one lane
// for its TP group, whose GPUs do the same), and its TP group reduce-scatters the lookup and
// gathers its gradient; the last stage's TP group gathers the LM head's input, all-reduces the
// loss's sums and scatters its gradient. The tags: the LM head's layer (the layer count) and the embedding's (one more), on
// whichever stage holds them.
TEST(ModelEnds, RunOnTheirStagesWithTheirSequenceParallelCollectives) {
  const int mbs = 8, head = 8, embedding = 9;
  const std::map<Key, int> expected{
      {{0, TaskKind::kEmbedding, embedding, false}, mbs},
      {{0, TaskKind::kEmbedding, embedding, true}, mbs},
      {{0, TaskKind::kTensorParallel, embedding, false}, mbs},
      {{0, TaskKind::kTensorParallel, embedding, true}, mbs},
      {{1, TaskKind::kLmHead, head, false}, mbs},
      {{1, TaskKind::kLossAllReduce, head, false}, mbs},
      {{1, TaskKind::kTensorParallel, head, false}, mbs},
      {{1, TaskKind::kTensorParallel, head, true}, mbs},
  };
  EXPECT_EQ(ends_of(pipeline({"parallelism.tp=2", "parallelism.pp=2"})), expected);
  // Where the embedding and the LM head have virtual stages of their own, the same.
  EXPECT_EQ(ends_of(pipeline({"parallelism.tp=2", "parallelism.pp=2", "parallelism.vp=2", "parallelism.pipeline_layout=E|t*4|t*4|L",
                              "schedule=interleaved"})),
            expected);
}

// A prediction module looks up the next tokens in its stage's copy of the embedding, and adds its
// gradient there: tagged with the module's layer, on the last stage.
TEST(ModelEnds, APredictionModuleLooksUpItsOwnTokens) {
  const std::map<Key, int> ends = ends_of(pipeline({"parallelism.tp=2", "parallelism.pp=2", "model.mtp_layers=1"}));
  const int mbs = 8, module = 8;
  EXPECT_EQ((ends.at({1, TaskKind::kEmbedding, module, false})), mbs);
  EXPECT_EQ((ends.at({1, TaskKind::kEmbedding, module, true})), mbs);
  EXPECT_EQ((ends.at({1, TaskKind::kLossAllReduce, module, false})), mbs);  // its own loss
  EXPECT_EQ((ends.at({0, TaskKind::kEmbedding, module + 2, false})), mbs);  // the model's own, as before
}

// The vocabulary-parallel loss all-reduces over the TP group three FP32 numbers a token, one
// after another: 3 x the network's all-reduce of 4 bytes x the sequence's 2,048 tokens, after the
// LM head's logits and before its input gradient is scattered back.
TEST(ModelEnds, TheLossAllReducesItsSumsInTheTensorParallelGroup) {
  const scenarios::Scenario s = pipeline({"parallelism.tp=2", "parallelism.pp=2"});
  const StepConfig c = step_config(s);
  auto network = network::make_network_model(c.cluster);
  const StepCosts costs = step_costs(c, *network);
  const std::vector<int> group{2, 3};  // the last stage's TP group
  ASSERT_EQ(costs.layout.tp_group(2), group);
  EXPECT_EQ(costs.loss_all_reduce.at(costs.by_gpu(2)).time, network->all_reduce(group, Bytes(4 * 2048.0)).time * 3);
  StepSimulator sim(c);
  simulate_step(s, sim);
  const engine::TaskGraph& graph = sim.graph();
  const engine::Schedule& schedule = sim.schedule();
  std::map<std::pair<TaskKind, bool>, std::map<int, engine::TaskId>> head;  // by (kind, backward), then micro-batch
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const uint32_t tag = graph.tag(t);
    if (tag_layer(tag) == c.model.layers) head[{tag_kind(tag), tag_backward(tag)}][tag_micro_batch(tag)] = t;
  }
  const auto& reduce = head[(std::pair{TaskKind::kLossAllReduce, false})];
  const auto& logits = head[(std::pair{TaskKind::kLmHead, false})];
  const auto& scatter = head[(std::pair{TaskKind::kTensorParallel, true})];
  ASSERT_EQ(reduce.size(), 8u);
  for (const auto& [mb, t] : reduce) {
    EXPECT_EQ(schedule.tasks[t].end - schedule.tasks[t].start, costs.loss_all_reduce[costs.by_gpu(2)].time) << mb;
    EXPECT_LE(schedule.tasks[logits.at(mb)].end, schedule.tasks[t].start) << mb;
    EXPECT_LE(schedule.tasks[t].end, schedule.tasks[scatter.at(mb)].start) << mb;
  }
}

// The lookup precedes the first layer's attention and its gradient follows that attention's
// backward, in every micro-batch.
TEST(ModelEnds, TheEmbeddingRunsBeforeTheFirstLayerAndItsGradientAfter) {
  const scenarios::Scenario s = pipeline({});
  StepSimulator sim(step_config(s));
  simulate_step(s, sim);
  const engine::TaskGraph& graph = sim.graph();
  const engine::Schedule& schedule = sim.schedule();
  std::map<std::pair<int, bool>, engine::TaskId> embedding, attention;  // by (micro-batch, backward)
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const uint32_t tag = graph.tag(t);
    if (tag_kind(tag) == TaskKind::kEmbedding) embedding[{tag_micro_batch(tag), tag_backward(tag)}] = t;
    if (tag_kind(tag) == TaskKind::kAttention && tag_layer(tag) == 0) attention[{tag_micro_batch(tag), tag_backward(tag)}] = t;
  }
  ASSERT_EQ(embedding.size(), 16u);
  for (int mb = 0; mb < 8; ++mb) {
    EXPECT_LE(schedule.tasks[embedding.at({mb, false})].end, schedule.tasks[attention.at({mb, false})].start) << mb;
    EXPECT_LE(schedule.tasks[attention.at({mb, true})].end, schedule.tasks[embedding.at({mb, true})].start) << mb;
  }
}

// The embedding's backward writes a dense BF16 gradient of its vocabulary shard before Megatron's
// hook adds it to the main gradient: 400,000 / 2 words x 768 = 307 MB here, against 128 tokens a
// GPU (256 a sequence on TP 2) whose BF16 logits take 102 MB. On one stage it comes at the end of
// the backward, the activations and the logits freed: the peak grows by what the gradient exceeds
// them by. The prediction module forms its lookup's gradient after its own LM head's backward,
// every activation still held, its logits freed: the peak grows by the gradient less those logits.
// Under ZeRO-3 the gathered-layers term holds it.
TEST(ModelEnds, TheEmbeddingsDenseGradientRaisesThePeakWhereItExceedsWhatIsFreed) {
  auto memory = [](const std::vector<std::string>& changes) {
    std::vector<std::string> overrides{"parallelism.pp=1", "parallelism.tp=2", "model.vocab=400000", "training.seq_len=256",
                                       "training.cross_entropy=bf16"};
    overrides.insert(overrides.end(), changes.begin(), changes.end());
    return gpu_memory(step_config(pipeline(overrides))).stages.at(0);
  };
  const double vocab = 400000, gradient = vocab / 2 * 768 * 2, logits = 128 * vocab * 2;
  const StageMemory full = memory({"parallelism.recompute=full"});
  ASSERT_GT(full.bytes_of("embedding gradient"), 0.0);
  EXPECT_DOUBLE_EQ(full.bytes_of("embedding gradient"), gradient - logits - full.bytes_of("activations"));
  EXPECT_DOUBLE_EQ(memory({"model.mtp_layers=1"}).bytes_of("embedding gradient"), gradient - logits);
  EXPECT_EQ(memory({"parallelism.recompute=full", "parallelism.zero=3"}).bytes_of("embedding gradient"), 0.0);
  EXPECT_GT(memory({}).bytes_of("embedding gradient"), 0.0);
  EXPECT_EQ(memory({"training.seq_len=2048"}).bytes_of("embedding gradient"), 0.0);  // 819 MB of logits
}

}  // namespace
}  // namespace moesim
