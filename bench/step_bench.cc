// One simulated training step of the quickstart scenario (32 GPUs, 12 MoE layers x 128 experts):
// routing -> traffic -> all-to-all costs -> task DAG -> schedule.
#include <benchmark/benchmark.h>

#include "bench/skewed_routing.h"
#include "policies/placement/static_placement.h"
#include "scenarios/loader/loader.h"
#include "sim/runner.h"
#include "sim/step/step_simulator.h"

namespace moesim {
namespace {

void BM_QuickstartStep(benchmark::State& state) {
  const auto s = scenarios::load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/quickstart.yaml");
  const gating::RoutingMatrix routing = bench::skewed_routing(s);
  const auto placement =
      policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
  StepSimulator sim(step_config(s));
  for (auto _ : state) {
    const StepResult r = sim.simulate(routing, placement);
    benchmark::DoNotOptimize(r.step_time);
  }
  state.counters["tasks"] = static_cast<double>(sim.graph().task_count());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_QuickstartStep)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace moesim
