#include "sim/step/grad_buckets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>

#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

TEST(GradBuckets, TheFirstChunkSplitsInBackwardOrderTheOthersAreOneBucket) {
  // Chunk 0 holds layers 0-3 (10 parameters each), chunk 1 layers 4-5. Backward order, buckets of
  // at least 25: layers 3, 2, 1 close one after layer 1 (30); layer 0 closes the chunk's last (10).
  // Chunk 1 is one bucket, its reduction after its first layer.
  const std::vector<std::vector<int>> chunks{{0, 1, 2, 3}, {4, 5}};
  const std::vector<double> params{10, 10, 10, 10, 7, 8};
  EXPECT_EQ(grad_buckets(chunks, params, 25), (std::vector<double>{10, 30, 0, 0, 15, 0}));
  // A bucket of one parameter is a layer; one larger than the model is the whole chunk.
  EXPECT_EQ(grad_buckets(chunks, params, 1), (std::vector<double>{10, 10, 10, 10, 15, 0}));
  EXPECT_EQ(grad_buckets(chunks, params, 1e9), (std::vector<double>{40, 0, 0, 0, 15, 0}));
}

struct Reductions {
  int count = 0;
  double bytes = 0;
};

// GPU 0's gradient reductions of `kind` (dense or expert) in one step of the 8-layer pipeline
// scenario run as 4-way data parallelism (every layer an MoE layer of one expert, so 4-way expert
// data parallelism too), with gradient buckets of `bucket_params` parameters.
std::vector<TimelineSpan> gpu_spans(const std::string& bucket_params, const std::string& zero = "0") {
  return spans_of(pipeline({"parallelism.pp=1", "parallelism.zero=" + zero, "training.ddp_bucket_size=" + bucket_params}));
}

Reductions reductions(const std::string& bucket_params, TaskKind kind) {
  const std::vector<TimelineSpan> spans = gpu_spans(bucket_params);
  Reductions r;
  for (const auto& span : spans) {
    if (span.kind != kind || span.gpu != 0) continue;
    ++r.count;
    r.bytes += span.bytes;
  }
  return r;
}

TEST(GradBuckets, OneBucketReducesTheWholeModelOnceAndAOneParameterBucketEachLayer) {
  // The experts' gradients are bucketed in buffers of their own, as the dense ones.
  for (TaskKind kind : {TaskKind::kDenseGradAllReduce, TaskKind::kExpertGradAllReduce}) {
    SCOPED_TRACE(static_cast<int>(kind));
    const Reductions per_layer = reductions("1", kind);
    const Reductions whole = reductions("1000000000000", kind);
    EXPECT_EQ(per_layer.count, 8);
    EXPECT_EQ(whole.count, 1);
    EXPECT_DOUBLE_EQ(whole.bytes, per_layer.bytes);  // the same gradients, in one reduction
    EXPECT_GT(whole.bytes, 0);
  }
}

TEST(GradBuckets, TheDistributedOptimizerGathersWeightsInTheSameBucketsEachBeforeItsLowestLayer) {
  // ZeRO 1: the updated weights are gathered per bucket (dense and expert alike), in forward order.
  // With a bucket per layer, layer 0's first forward waits only for its own gathers, and the later
  // layers' gathers run under it; with one bucket, it waits for the whole model's two gathers.
  for (const std::string bucket : {"1", "1000000000000"}) {
    SCOPED_TRACE(bucket);
    const std::vector<TimelineSpan> spans = gpu_spans(bucket, "1");
    std::vector<TimelineSpan> gathers;
    Duration first_forward = Duration::FromPicoseconds(std::numeric_limits<int64_t>::max());
    for (const auto& span : spans) {
      if (span.gpu != 0) continue;
      if (span.kind == TaskKind::kParamAllGather) gathers.push_back(span);
      if (span.kind == TaskKind::kAttention && !span.backward) first_forward = std::min(first_forward, span.start);
    }
    Duration last_gather_end;
    for (const auto& g : gathers) last_gather_end = std::max(last_gather_end, g.start + g.duration);
    if (bucket == "1") {
      EXPECT_EQ(gathers.size(), 16u);  // 8 layers, each a dense and an expert bucket
      EXPECT_LT(first_forward, last_gather_end);
    } else {
      EXPECT_EQ(gathers.size(), 2u);
      EXPECT_GE(first_forward, last_gather_end);
    }
  }
}

// The pipeline scenario on 8 GPUs (PP 4 x DP 2) with an untied 32,000-word embedding, the first and
// the last stage holding only the embedding and the LM head. Their gradients are reduced, and their
// updated weights gathered, by their own stages' GPUs: the embedding's after the backward that
// reaches stage 0 last, the LM head's after its last pass; stages 1 and 2 reduce only their layers.
TEST(GradBuckets, AStageHoldingOnlyTheEmbeddingOrTheLmHeadReducesAndGathersItsOwn) {
  const std::vector<std::string> wider{"cluster.gpus_per_node=8",  "cluster.nic.count=8", "cluster.intra_node.group_size=8",
                                       "training.global_batch=16", "model.vocab=32000",   "model.tied_embeddings=false",
                                       "parallelism.zero=1"};
  auto with = [&](const std::string& layout) {
    std::vector<std::string> overrides = wider;
    overrides.push_back("parallelism.pipeline_layout=" + layout);
    return pipeline(overrides);
  };
  const scenarios::Scenario s = with("E|t*4|t*4|L");
  const std::vector<TimelineSpan> spans = spans_of(s);
  const int layers = s.model.layers, embedding = layers + 1, head = layers;
  const double matrix_bytes = s.model.vocab * s.model.hidden * s.model.grad_bytes_per_param;
  std::map<int, double> reduced;  // per stage, GPU 0 of its DP group's dense gradient bytes
  Duration last_backward_into_0, last_lm_head, first_send_from_0 = Duration::FromPicoseconds(std::numeric_limits<int64_t>::max());
  std::map<int, Duration> reduce_start, gather_end;  // the ends' units, on their stages
  for (const auto& span : spans) {
    if (span.gpu % 2 != 0) continue;  // one GPU per stage
    const Duration end = span.start + span.duration;
    if (span.kind == TaskKind::kDenseGradAllReduce) {
      reduced[span.stage] += span.bytes;
      if (span.layer >= layers) {
        EXPECT_EQ(span.stage, span.layer == embedding ? 0 : 3);
        EXPECT_DOUBLE_EQ(span.bytes, matrix_bytes);
        reduce_start[span.layer] = span.start;
      }
    }
    if (span.kind == TaskKind::kParamAllGather && span.layer >= layers) {
      EXPECT_EQ(span.stage, span.layer == embedding ? 0 : 3);
      gather_end[span.layer] = end;
    }
    if (span.kind == TaskKind::kPipelineSend && span.stage == 0) {
      if (span.backward) last_backward_into_0 = std::max(last_backward_into_0, end);
      if (!span.backward) first_send_from_0 = std::min(first_send_from_0, span.start);
    }
    if (span.kind == TaskKind::kLmHead) last_lm_head = std::max(last_lm_head, end);
  }
  ASSERT_EQ(reduce_start.size(), 2u);
  ASSERT_EQ(gather_end.size(), 2u);
  EXPECT_DOUBLE_EQ(reduced[0], matrix_bytes);
  EXPECT_DOUBLE_EQ(reduced[3], matrix_bytes);
  EXPECT_GE(reduce_start[embedding], last_backward_into_0);
  EXPECT_GE(reduce_start[head], last_lm_head);
  EXPECT_GE(first_send_from_0, gather_end[embedding]);
  // The same gradients are reduced whatever the split.
  double even = 0;
  for (const auto& span : spans_of(with("Et*2|t*2|t*2|t*2L"))) {
    if (span.gpu % 2 == 0 && span.kind == TaskKind::kDenseGradAllReduce) even += span.bytes;
  }
  EXPECT_DOUBLE_EQ(reduced[0] + reduced[1] + reduced[2] + reduced[3], even);
}

// On PP 4 x DP 2 an LM head tied to the embedding keeps a copy on the last stage (Megatron), whose
// gradient that stage's data parallelism reduces as an untied head's would be, before the
// embedding group sums the two copies.
TEST(GradBuckets, TheLastStageReducesItsCopyOfATiedEmbedding) {
  auto reduced = [](const std::string& tied) {
    std::map<int, double> per_stage;  // one GPU of each stage
    for (const auto& span : spans_of(pipeline({"cluster.gpus_per_node=8", "cluster.nic.count=8", "cluster.intra_node.group_size=8",
                                               "training.global_batch=16", "model.vocab=32000", "model.tied_embeddings=" + tied}))) {
      if (span.gpu % 2 == 0 && span.kind == TaskKind::kDenseGradAllReduce) per_stage[span.stage] += span.bytes;
    }
    return per_stage;
  };
  const std::map<int, double> tied = reduced("true"), untied = reduced("false");
  ASSERT_EQ(tied.size(), 4u);
  for (int stage = 0; stage < 4; ++stage) EXPECT_DOUBLE_EQ(tied.at(stage), untied.at(stage)) << stage;
}

// FSDP over two data-parallel GPUs a stage, each rank's 8 sequences in two runs of the schedule.
// Megatron's way (step) reduces every layer's gradients once, after its backward of micro-batch 7;
// PyTorch's pipelining (run) at the end of each run, after micro-batch 3's and 7's; FSDP left to
// itself (micro_batch) after every backward. Each reduction moves the same bytes, and where a run
// reduces its own, the stage's next run starts once they are done (FSDP's post-backward waits for
// its reduce-scatters).
TEST(GradBuckets, PyTorchsPipeliningReducesTheGradientsAfterEveryRunOfTheSchedule) {
  const std::map<std::string, std::vector<int>> reduced_after{{"step", {7}}, {"run", {3, 7}}, {"micro_batch", {0, 1, 2, 3, 4, 5, 6, 7}}};
  std::map<std::string, double> bytes;  // GPU 0's reduced bytes, per grad_sync
  for (const auto& [sync, after] : reduced_after) {
    const std::vector<TimelineSpan> spans =
        spans_of(pipeline({"cluster.gpus_per_node=8", "cluster.nic.count=8", "cluster.intra_node.group_size=8", "training.global_batch=16",
                           "training.local_batch=4", "parallelism.zero=fsdp", "training.grad_sync=" + sync}));
    std::map<int, std::vector<std::pair<Duration, Duration>>> reduced;                     // layer: GPU 0's reductions of it, (start, end)
    std::map<std::pair<int, int>, Duration> backward_end;                                  // (layer, micro-batch): GPU 0's backward of it
    Duration second_run = Duration::FromPicoseconds(std::numeric_limits<int64_t>::max());  // GPU 0's first forward of micro-batch 4
    for (const auto& span : spans) {
      if (span.gpu != 0) continue;
      if (span.kind == TaskKind::kDenseGradAllReduce) {
        reduced[span.layer].emplace_back(span.start, span.start + span.duration);
        bytes[sync] += span.bytes;
      }
      if (span.stream != LaneStream::kCompute || span.kind == TaskKind::kOptimizer) continue;
      if (span.backward) {
        Duration& end = backward_end[{span.layer, span.micro_batch}];
        end = std::max(end, span.start + span.duration);
      } else if (span.micro_batch == 4) {
        second_run = std::min(second_run, span.start);
      }
    }
    ASSERT_EQ(reduced.size(), 2u) << sync;  // stage 0's two layers
    for (auto& [layer, at] : reduced) {
      std::sort(at.begin(), at.end());
      ASSERT_EQ(at.size(), after.size()) << sync << " layer " << layer;
      for (size_t i = 0; i < at.size(); ++i) {
        EXPECT_GE(at[i].first, backward_end.at({layer, after[i]})) << sync << " layer " << layer;
        if (after[i] == 3) {
          EXPECT_LE(at[i].second, second_run) << sync << " layer " << layer;
        }
      }
      if (sync == "step") {
        EXPECT_GT(at[0].first, second_run) << "layer " << layer;
      }
    }
  }
  EXPECT_DOUBLE_EQ(bytes["run"], 2 * bytes["step"]);
  EXPECT_DOUBLE_EQ(bytes["micro_batch"], 8 * bytes["step"]);
}

}  // namespace
}  // namespace moesim
