// Megatron's embedding group: where the word embedding's gradient lives on two pipeline stages (an
// LM head tied to it on the last stage, or the prediction modules' copy of it), the two sum it
// after their backward passes and data-parallel reductions, before the optimizer.
#include <gtest/gtest.h>

#include <map>

#include "sim/network/network_model.h"
#include "sim/step/memory_model.h"
#include "sim/step/step_costs.h"
#include "sim/step/task_kind.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

struct GroupSums {
  std::vector<int> stages;                 // of every sum's two GPUs (one GPU per stage here)
  Duration start, end;                     // of the last sum
  std::map<int, Duration> other_work_end;  // per stage: the last of its tasks but the sum and the optimizer
  std::map<int, Duration> optimizer_start;
};

GroupSums sums_of(const scenarios::Scenario& s) {
  StepSimulator sim(step_config(s));
  simulate_step(s, sim);
  const engine::TaskGraph& graph = sim.graph();
  const engine::Schedule& schedule = sim.schedule();
  GroupSums out;
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const TaskKind kind = tag_kind(graph.tag(t));
    const Duration start = schedule.tasks[t].start.since_start(), end = schedule.tasks[t].end.since_start();
    for (engine::ResourceId r : graph.resources(t)) {
      const int stage = sim.lanes().gpu[lane_of_stream(r)];
      if (kind == TaskKind::kEmbeddingGradSum) {
        out.stages.push_back(stage);
      } else if (kind == TaskKind::kOptimizer) {
        out.optimizer_start[stage] = start;
      } else {
        out.other_work_end[stage] = std::max(out.other_work_end[stage], end);
      }
    }
    if (kind == TaskKind::kEmbeddingGradSum) out.start = start, out.end = end;
  }
  return out;
}

// GPT-3 125M ties its LM head to the embedding; on PP 4 they sit on the first and the last stage.
TEST(EmbeddingGroup, SumsATiedEmbeddingsGradientBetweenTheFirstAndLastStages) {
  const scenarios::Scenario s = pipeline({});
  ASSERT_TRUE(s.model.tied_embeddings);
  const GroupSums sums = sums_of(s);
  EXPECT_EQ(sums.stages, (std::vector<int>{0, 3}));
  for (int stage : {0, 3}) {
    EXPECT_GE(sums.start, sums.other_work_end.at(stage)) << stage;
    EXPECT_GE(sums.optimizer_start.at(stage), sums.end) << stage;
  }
  auto network = network::make_network_model(step_config(s).cluster);
  const StepCosts costs = step_costs(step_config(s), *network);
  EXPECT_DOUBLE_EQ(costs.embedding_grad_bytes, s.model.vocab * s.model.hidden * s.model.grad_bytes_per_param);
}

TEST(EmbeddingGroup, NoneWhereOneGpuHoldsBothEndsOrNothingIsShared) {
  EXPECT_TRUE(sums_of(pipeline({"model.tied_embeddings=false"})).stages.empty());
  EXPECT_TRUE(sums_of(pipeline({"schedule=dualpipev", "parallelism.vp=2"})).stages.empty());
  EXPECT_TRUE(sums_of(pipeline({"parallelism.pp=1"})).stages.empty());
}

// Under DualPipe on PP 4 the first stage holds one copy's embedding and the other copy's LM head
// (the last stage the reverse): untied, two matrices; tied, one for both roles, as the gradient
// model keeps it (no embedding group, no copy reduced apart), its layers the same either way.
TEST(EmbeddingGroup, ADualPipeEndStageKeepsOneTiedMatrixForBothRoles) {
  const std::vector<std::string> dualpipe{"schedule=dualpipe", "parallelism.vp=2"};
  auto params = [&](const char* tied, int stage) {
    auto overrides = dualpipe;
    overrides.push_back(std::string("model.tied_embeddings=") + tied);
    return stage_params(step_config(pipeline(overrides)), stage).dense;
  };
  const scenarios::Scenario s = pipeline(dualpipe);
  const double matrix = static_cast<double>(s.model.vocab) * s.model.hidden;
  for (int stage : {0, 3}) EXPECT_DOUBLE_EQ(params("false", stage) - params("true", stage), matrix) << stage;
  for (int stage : {1, 2}) EXPECT_DOUBLE_EQ(params("false", stage), params("true", stage)) << stage;
  EXPECT_TRUE(sums_of(s).stages.empty());
}

// Untied, the prediction module's copy pairs with the first stage's embedding, wherever the module is.
TEST(EmbeddingGroup, PairsTheFirstStageWithThePredictionModulesCopy) {
  EXPECT_EQ(sums_of(pipeline({"model.tied_embeddings=false", "model.mtp_layers=1"})).stages, (std::vector<int>{0, 3}));
  EXPECT_EQ(sums_of(pipeline({"model.tied_embeddings=false", "model.mtp_layers=1", "parallelism.pipeline_layout=Et*3|t*3|t*2m|L"})).stages,
            (std::vector<int>{0, 2}));
}

}  // namespace
}  // namespace moesim
