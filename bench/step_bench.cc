// One simulated training step: routing -> traffic -> all-to-all costs -> task DAG -> schedule. The
// quickstart scenario (32 GPUs, 12 MoE layers x 128 experts), and a DeepSeek-V3-size run (61
// layers, 256 experts, 2,048 GPUs, PP16, EP64, all 120 micro-batches of a 15,360-sequence batch)
// grown in GPUs, layers and micro-batches.
#include <benchmark/benchmark.h>

#include "bench/skewed_routing.h"
#include "policies/placement/static_placement.h"
#include "scenarios/loader/loader.h"
#include "sim/runner.h"
#include "sim/step/step_simulator.h"

namespace moesim {
namespace {

// Simulates `routing` under the static contiguous placement, once per iteration.
void simulate_steps(benchmark::State& state, const scenarios::Scenario& s, const gating::RoutingMatrix& routing) {
  const auto placement =
      policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
  StepSimulator sim(step_config(s));
  for (auto _ : state) {
    const StepResult r = sim.simulate(routing, placement);
    benchmark::DoNotOptimize(r.step_time);
  }
  state.counters["tasks"] = static_cast<double>(sim.graph().task_count());
  state.counters["simulated_gpus"] = sim.lanes().count();
}

void BM_QuickstartStep(benchmark::State& state) {
  const auto s = scenarios::load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/quickstart.yaml");
  simulate_steps(state, s, bench::skewed_routing(s));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_QuickstartStep)->Unit(benchmark::kMicrosecond);

// DeepSeek-V3 on `nodes` x 8 H800 with PP16 x EP64, `batch` sequences, `layers` layers; routing
// balanced (every GPU of a stage alike: one simulated GPU per stage) or skewed (Zipf per layer:
// every GPU of a stage sees different loads, so each is simulated).
scenarios::Scenario deepseek_v3(int nodes, int batch, int layers) {
  return scenarios::load_scenario_text("cluster: {preset: h800-dgx, nodes: " + std::to_string(nodes) +
                                           "}\nmodel: {preset: deepseek-v3, layers: " + std::to_string(layers) +
                                           "}\nparallelism: {pp: 16, ep: 64, zero: 1, recompute: full}\n"
                                           "training: {global_batch: " +
                                           std::to_string(batch) + ", micro_batch: 1, seq_len: 4096}\ndispatch: {dtype: fp8}\n",
                                       "deepseek-v3.yaml");
}

void deepseek_step(benchmark::State& state, bool skewed) {
  const auto s = deepseek_v3(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), static_cast<int>(state.range(2)));
  gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts);
  if (skewed) {
    routing = bench::skewed_routing(s);
  } else {
    const int64_t each = s.training.tokens_per_rank(s.parallelism) * s.model.top_k / s.model.experts;
    for (int l = 0; l < routing.layers(); ++l)
      for (int r = 0; r < routing.ranks(); ++r)
        for (int e = 0; e < routing.experts(); ++e) routing.row(l, r)[e] = static_cast<int32_t>(each);
  }
  simulate_steps(state, s, routing);
}
void BM_DeepSeekV3Step(benchmark::State& state) { deepseek_step(state, false); }
void BM_DeepSeekV3StepSkewed(benchmark::State& state) { deepseek_step(state, true); }
// {nodes, global batch, layers}: the full run, then fewer GPUs, fewer micro-batches, fewer layers.
BENCHMARK(BM_DeepSeekV3Step)
    ->Args({256, 15360, 61})
    ->Args({128, 7680, 61})
    ->Args({256, 3840, 61})
    ->Args({256, 15360, 31})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeepSeekV3StepSkewed)->Args({256, 15360, 61})->Args({128, 7680, 61})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace moesim
