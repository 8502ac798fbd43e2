// Weight gradients run apart from their backward: DualPipeV's zero-bubble weight passes fill the
// bubble by what DeepSeek's published formula says, and Megatron's delayed weight gradients let
// the backward dispatch start at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "sim/step/task_kind.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

TEST(PipelineStep, DualPipeVWeightSplitSavesDeepSeeksThreeWPerPairOfStages) {
  // DualPipe's published bubble, (PP/2 - 1)(F&B + B - 3W) for PP stages: leaving weight gradients
  // to fill bubbles saves 3W per pair of stages beyond the first. Here PP/2 - 1 = pp - 1 = 3 with
  // one-layer chunks of equal cost; the GPUs compute the same either way, only the idle differs.
  const scenarios::Scenario s = pipeline({"schedule=dualpipev", "parallelism.vp=2"});
  auto run = [&](bool split, Duration& weights) {
    StepConfig config = step_config(s);
    config.split_weights = split;
    StepSimulator sim(config);
    const StepResult r = simulate_step(s, sim);
    for (engine::TaskId t = 0; t < sim.graph().task_count(); ++t) {
      if (tag_kind(sim.graph().tag(t)) == TaskKind::kWeightGrad)
        weights = Max(weights, sim.schedule().tasks[t].end - sim.schedule().tasks[t].start);
    }
    return r;
  };
  Duration w, none;
  const StepResult split = run(true, w), whole = run(false, none);
  EXPECT_EQ(none, Duration());
  ASSERT_GT(w, Duration());
  for (int g = 0; g < 4; ++g) EXPECT_EQ(split.compute_busy[g], whole.compute_busy[g]);
  EXPECT_NEAR((whole.step_time - split.step_time) / (w * 9.0), 1.0, 0.02);
}

TEST(PipelineStep, DelayedWeightGradientsHideTheBackwardDispatch) {
  // Megatron's --delay-wgrad-compute: the experts' weight gradients run while the backward
  // dispatch, which needs only their input gradients, is in flight; the same compute, less
  // communication left exposed.
  const StepResult plain = run_step(all_to_all_heavy("overlap", {"parallelism.vp=2"}));
  const scenarios::Scenario s = all_to_all_heavy("overlap", {"parallelism.vp=2", "training.delay_wgrad=true"});
  gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts);
  make_gating_source(s)->next(0, routing);
  StepSimulator sim(step_config(s));
  const StepResult delayed = sim.simulate(
      routing,
      policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous));
  EXPECT_LT(delayed.exposed_comm, plain.exposed_comm * 0.9);
  EXPECT_LT(delayed.step_time, plain.step_time);
  EXPECT_NEAR(delayed.compute_busy[0] / plain.compute_busy[0], 1.0, 1e-9);
  // On GPU 0, every MoE layer's backward dispatch starts before that layer's weight gradients end.
  const auto& graph = sim.graph();
  const auto& tasks = sim.schedule().tasks;
  const engine::ResourceId compute = StepSimulator::compute_stream(0), comm = StepSimulator::comm_stream(0);
  std::map<std::pair<int, int>, SimTime> wgrad_end, dispatch_start;  // by (layer, micro-batch)
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const uint32_t tag = graph.tag(t);
    const auto on = [&](engine::ResourceId r) {
      const auto rs = graph.resources(t);
      return std::find(rs.begin(), rs.end(), r) != rs.end();
    };
    const std::pair<int, int> key{tag_layer(tag), tag_micro_batch(tag)};
    if (tag_kind(tag) == TaskKind::kWeightGrad && on(compute) && s.model.is_moe_layer(key.first)) wgrad_end[key] = tasks[t].end;
    if (tag_kind(tag) == TaskKind::kDispatch && tag_backward(tag) && on(comm)) dispatch_start[key] = tasks[t].start;
  }
  ASSERT_FALSE(wgrad_end.empty());
  for (const auto& [key, end] : wgrad_end) {
    ASSERT_TRUE(dispatch_start.count(key));
    EXPECT_LT(dispatch_start[key], end) << "layer " << key.first << ", micro-batch " << key.second;
  }
}

}  // namespace
}  // namespace moesim
