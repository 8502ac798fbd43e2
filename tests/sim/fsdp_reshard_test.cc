// ZeRO 3 keeping a unit's gathered weights from its forward to its backward
// (parallelism.reshard_after_forward false, FSDP's option of that name).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "models/moe_model.h"
#include "models/presets.h"
#include "sim/step/memory_model.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

using Pass = std::tuple<int, bool>;  // (micro-batch, backward)

// Per stage, the passes of its second layer that gather that layer's weights on the stage's first
// GPU, in one step of the 8-layer pipeline on PP 2 x DP 2 (4 micro-batches a rank, 1F1B).
std::map<int, std::set<Pass>> gathering_passes(const std::string& reshard, const std::vector<std::string>& more = {}) {
  std::vector<std::string> overrides{"parallelism.pp=2", "parallelism.zero=fsdp", "parallelism.reshard_after_forward=" + reshard};
  overrides.insert(overrides.end(), more.begin(), more.end());
  std::map<int, std::set<Pass>> out;
  for (const auto& span : spans_of(pipeline(overrides))) {
    if (span.kind != TaskKind::kParamAllGather || span.gpu % 2 != 0 || span.layer != 4 * span.stage + 1) continue;
    out[span.stage].insert({span.micro_batch, span.backward});  // its dense weights' gather and its expert's
  }
  return out;
}

// Stage 0 runs F0 F1 B0 F2 B1 F3 B2 B3: F0 gathers and keeps the weights for F1 and B0, which drops
// them; F2 gathers again for B1, F3 for B2, and B3 finds them dropped. Stage 1 alternates F and B,
// so each forward gathers for the backward after it. Resharding after each forward (FSDP's
// default) gathers for every pass.
TEST(FsdpReshard, KeptWeightsServeTheForwardsAndTheBackwardAfterThem) {
  const std::set<Pass> stage0{{0, false}, {2, false}, {3, false}, {3, true}}, stage1{{0, false}, {1, false}, {2, false}, {3, false}};
  const auto kept = gathering_passes("false");
  EXPECT_EQ(kept.at(0), stage0);
  EXPECT_EQ(kept.at(1), stage1);
  const auto resharded = gathering_passes("true");
  for (int stage : {0, 1}) EXPECT_EQ(resharded.at(stage).size(), 8u) << stage;
}

// PyTorch's pipelining (grad_sync run) keeps an FSDP stage's weights gathered from backward to
// backward, up to the run's last: two runs of 4 micro-batches, stage 0 running F0 F1 B0 F2 B1 F3 B2
// B3, then F4 .. B7. Kept after the forwards too, each run gathers once, at its first forward.
// Resharded after each forward, F0 and F1 gather; B0 gathers and keeps them for F2, which drops
// them; B1 gathers for F3, B2 for B3, the run's last, which drops them.
TEST(FsdpReshard, PyTorchsPipeliningKeepsTheWeightsToTheRunsLastBackward) {
  const std::vector<std::string> runs{"training.global_batch=16", "training.local_batch=4", "training.grad_sync=run"};
  const auto kept = gathering_passes("false", runs);
  for (int stage : {0, 1}) EXPECT_EQ(kept.at(stage), (std::set<Pass>{{0, false}, {4, false}})) << stage;
  const auto resharded = gathering_passes("true", runs);
  std::set<Pass> stage0;
  for (int run : {0, 4}) stage0.insert({{run, false}, {run + 1, false}, {run, true}, {run + 1, true}, {run + 2, true}});
  EXPECT_EQ(resharded.at(0), stage0);
}

// The embedding in a virtual stage of its own: the backward of that chunk drops its weights too.
// Stage 0's first chunk (the embedding) runs, in Megatron's interleaved order with 8 micro-batches
// a rank, F0 F1 F2 F3 B0 B1 F4 F5 B2 B3 F6 F7 B4 ... B7: kept, it gathers at F0, F4 and F6.
TEST(FsdpReshard, AnEndInAChunkOfItsOwnDropsItsWeightsAfterItsBackward) {
  const auto s = pipeline({"parallelism.pp=2", "parallelism.vp=2", "parallelism.pipeline_layout=E|t*4|t*4|L", "schedule=interleaved",
                           "training.global_batch=16", "parallelism.zero=fsdp", "parallelism.reshard_after_forward=false"});
  std::set<Pass> gathered;
  for (const auto& span : spans_of(s)) {
    if (span.kind == TaskKind::kParamAllGather && span.gpu == 0 && span.layer >= 8) gathered.insert({span.micro_batch, span.backward});
  }
  EXPECT_EQ(gathered, (std::set<Pass>{{0, false}, {4, false}, {6, false}}));
}

// Kept, every unit of a stage is gathered at once when its last forward before a backward ends;
// resharded, one unit and the next, prefetched. Qwen3-30B-A3B's 8 layers on PP 2 x DP 16, EP 16:
// the experts are not sharded (one copy each), so a layer's unit is its dense weights; stage 0's
// four layers and the embedding, against the embedding (its largest unit) twice.
TEST(FsdpReshard, KeptWeightsHoldEveryUnitOfTheStageGathered) {
  const auto memory = [](const std::string& reshard, const std::string& grad_sync = "step") {
    const auto s = scenarios::load_scenario_text(
        "cluster: {preset: h100-dgx, nodes: 4}\nmodel: {preset: qwen3-30b-a3b, layers: 8}\n"
        "parallelism: {pp: 2, ep: 16, zero: fsdp}\ntraining: {global_batch: 64, micro_batch: 1, local_batch: 2, seq_len: 4096}\n",
        "memory.yaml", {"parallelism.reshard_after_forward=" + reshard, "training.grad_sync=" + grad_sync});
    return gpu_memory(step_config(s)).stages[0].bytes_of("gathered layers");
  };
  const models::MoeModel m = *models::model_preset("qwen3-30b-a3b");
  const auto params = models::param_counts(m);
  const double embedding = 151936.0 * 2048, layer = models::layer_dense_params(m, params, 0), grad = m.grad_bytes_per_param;
  EXPECT_DOUBLE_EQ(memory("true"), embedding * (2 * 2 + grad));
  EXPECT_DOUBLE_EQ(memory("false"), (embedding + 4 * layer) * 2 + embedding * grad);
  // PyTorch's pipelining holds every unit's weights and its whole gradient, accumulated over the run.
  for (const char* reshard : {"true", "false"}) EXPECT_DOUBLE_EQ(memory(reshard, "run"), (embedding + 4 * layer) * (2 + grad)) << reshard;
}

}  // namespace
}  // namespace moesim
