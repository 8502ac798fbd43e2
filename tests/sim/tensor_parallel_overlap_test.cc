// Megatron's --tp-comm-overlap (parallelism.tp_comm_overlap): a block's sequence-parallel gather
// and scatter run beside its compute instead of before and after it.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/network/network_model.h"
#include "sim/step/step_costs.h"
#include "sim/step/step_dag.h"
#include "sim/step/task_kind.h"
#include "tests/sim/pipeline_scenarios.h"

namespace moesim {
namespace {

// pipeline()'s 8 one-expert layers (no all-to-all) on 4 GPUs as TP 2 x DP 2 in one stage: four
// micro-batches a data-parallel rank.
scenarios::Scenario tp2(bool overlap) {
  return pipeline({"parallelism.pp=1", "parallelism.tp=2", std::string("parallelism.tp_comm_overlap=") + (overlap ? "true" : "false")});
}

struct Interval {
  Duration start, end;
};

struct TpRun {
  Duration step;
  int collectives = 0;  // GPU 0's TP collectives
  Duration beside;      // their time spent while GPU 0 computes
  Duration collective;  // one collective's time
};

TpRun run(const scenarios::Scenario& s) {
  const StepConfig config = step_config(s);
  StepSimulator sim(config);
  TpRun out;
  out.step = simulate_step(s, sim).step_time;
  const engine::TaskGraph& graph = sim.graph();
  const engine::Schedule& schedule = sim.schedule();
  std::vector<Interval> compute, tp;
  for (engine::TaskId t = 0; t < graph.task_count(); ++t) {
    const Interval at{schedule.tasks[t].start.since_start(), schedule.tasks[t].end.since_start()};
    for (engine::ResourceId r : graph.resources(t)) {
      if (sim.lanes().gpu[lane_of_stream(r)] != 0) continue;
      if (stream_kind(r) == LaneStream::kCompute) compute.push_back(at);
      if (tag_kind(graph.tag(t)) == TaskKind::kTensorParallel) tp.push_back(at);
    }
  }
  for (const Interval& c : tp) {
    ++out.collectives;
    for (const Interval& k : compute) out.beside += std::max(Duration(), std::min(c.end, k.end) - std::max(c.start, k.start));
  }
  auto network = network::make_network_model(config.cluster);
  out.collective = step_costs(config, *network).tp_collective.at(0).time;
  return out;
}

TEST(TensorParallelOverlap, GatherAndScatterRunBesideTheBlockTheyServe) {
  const TpRun apart = run(tp2(false)), beside = run(tp2(true));
  // The same collectives either way: per micro-batch, each layer's attention block gathers and
  // scatters forward and backward (4 x 8 layers), the embedding scatters its output and gathers
  // its gradient, and the LM head gathers its input and scatters its gradient; four micro-batches.
  ASSERT_EQ(apart.collectives, 4 * (4 * 8 + 2 + 2));
  EXPECT_EQ(beside.collectives, apart.collectives);
  ASSERT_GT(apart.collective, Duration());
  // Apart, no collective runs while the GPU computes.
  EXPECT_EQ(apart.beside, Duration());
  // Beside, the attention blocks' (each block's compute outlasts its gather and scatter), and not
  // the model ends', which Transformer Engine's userbuffers do not cover.
  const double blocks = 4 * 4 * 8, seconds = apart.collective.seconds();
  EXPECT_NEAR(beside.beside.seconds(), blocks * seconds, 1e-6 * blocks * seconds);
  // So the step is shorter by about the time they took on the chain (not exactly: the data-parallel
  // reductions that overlap the backward now meet them elsewhere).
  const double saved = (apart.step - beside.step).seconds();
  EXPECT_LE(saved, blocks * seconds * (1 + 1e-9));
  EXPECT_GE(saved, 0.95 * blocks * seconds);
}

}  // namespace
}  // namespace moesim
