#include "sim/step/grad_buckets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

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
  const scenarios::Scenario s = pipeline({"parallelism.pp=1", "parallelism.zero=" + zero, "training.ddp_bucket_size=" + bucket_params});
  StepSimulator sim(step_config(s));
  simulate_step(s, sim);
  std::vector<TimelineSpan> spans;
  sim.append_timeline(0, Duration(), spans);
  return spans;
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

}  // namespace
}  // namespace moesim
