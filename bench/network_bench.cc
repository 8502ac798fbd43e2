// Whole simulated training steps at scale under each network model: routing -> traffic ->
// collective costs (analytic) or routed flows (flow) -> task DAG -> schedule. Routing comes from
// the skewed source, so the all-to-alls carry realistic imbalance.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "bench/skewed_routing.h"
#include "hardware/presets.h"
#include "policies/placement/static_placement.h"
#include "scenarios/loader/loader.h"
#include "sim/network/all_to_all.h"
#include "sim/network/collective_bench.h"
#include "sim/runner.h"
#include "sim/step/step_simulator.h"

namespace moesim {
namespace {

// 32 nodes x 8 H100, 12 MoE layers x 128 experts, top-2, EP 128: every dispatch crosses nodes.
constexpr const char* kA2aHeavy256 = R"(
name: a2a-heavy-256
cluster: {preset: h100-dgx, nodes: 32}
model: {preset: gpt3-350m-moe, top_k: 2}
parallelism: {ep: 128, dp: 256}
training: {tokens_per_step: 1048576, seq_len: 2048}
)";

// The same model on 1,024 nodes.
constexpr const char* kAnalytic8192 = R"(
name: analytic-8192
cluster: {preset: h100-dgx, nodes: 1024}
model: {preset: gpt3-350m-moe, top_k: 2}
parallelism: {ep: 128, dp: 8192}
training: {tokens_per_step: 16777216, seq_len: 2048}
)";

// DeepSeek-V3 as trained (arXiv 2412.19437): H800 nodes, EP 64, 2,048 GPUs; optimizer state
// sharded over the data-parallel copies of each expert. Without its pipeline the model does not
// fit in 80 GB: the memory check is set aside (step_bench has the pipelined run).
constexpr const char* kDeepSeekV3 = R"(
name: deepseek-v3-2048
cluster: {preset: h800-dgx, nodes: 256, gpu: {hbm_capacity: 256GB}}
model: {preset: deepseek-v3, optimizer_bytes_per_param: 0.5}
parallelism: {ep: 64, dp: 2048}
training: {tokens_per_step: 8388608, seq_len: 4096}
dispatch: {dtype: fp8}
)";

void run_step(benchmark::State& state, const char* yaml, const std::string& model, bool share_nics = true) {
  const auto s = scenarios::load_scenario_text(
      yaml, "bench.yaml", {"cluster.network.model=" + model, std::string("cluster.network.share_nics=") + (share_nics ? "true" : "false")});
  const gating::RoutingMatrix routing = bench::skewed_routing(s);
  const auto placement =
      policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
  StepSimulator sim(step_config(s));
  // Steady state: the first step also pays for first-touching every buffer.
  StepResult r = sim.simulate(routing, placement);
  for (auto _ : state) {
    r = sim.simulate(routing, placement);
    benchmark::DoNotOptimize(r.step_time);
  }
  state.counters["gpus"] = s.cluster.gpu_count();
  state.counters["tasks"] = static_cast<double>(sim.graph().task_count());
  state.counters["sim_step_ms"] = r.step_time.seconds() * 1e3;
  state.counters["sim_a2a_ms"] = r.all_to_all_time.seconds() * 1e3;
}

// The 8,192-GPU scenario cut to state.range(0) nodes (EP 128, the same tokens per GPU), under the
// flow model: how its set-up and its step grow with GPUs.
scenarios::Scenario flow_at(int64_t nodes) {
  const int64_t gpus = nodes * 8;
  return scenarios::load_scenario_text(
      kAnalytic8192, "bench.yaml",
      {"cluster.network.model=flow", "cluster.nodes=" + std::to_string(nodes), "parallelism.dp=" + std::to_string(gpus),
       "training.tokens_per_step=" + std::to_string(gpus * 2048)});
}

// Set-up: the topology, the router's latencies and every EP group's routes (the first step
// routes them), with that first step. BM_FlowStep's time is what the step itself takes.
void BM_FlowSetup(benchmark::State& state) {
  const auto s = flow_at(state.range(0));
  const gating::RoutingMatrix routing = bench::skewed_routing(s);
  const auto placement =
      policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
  for (auto _ : state) {
    StepSimulator sim(step_config(s));
    benchmark::DoNotOptimize(sim.simulate(routing, placement).step_time);
  }
  state.counters["gpus"] = s.cluster.gpu_count();
}

void BM_FlowStep(benchmark::State& state) {
  const auto s = flow_at(state.range(0));
  const gating::RoutingMatrix routing = bench::skewed_routing(s);
  const auto placement =
      policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, policies::StaticLayout::kContiguous);
  StepSimulator sim(step_config(s));
  benchmark::DoNotOptimize(sim.simulate(routing, placement).step_time);
  for (auto _ : state) benchmark::DoNotOptimize(sim.simulate(routing, placement).step_time);
  state.counters["gpus"] = s.cluster.gpu_count();
}

void BM_A2aHeavy256_Analytic(benchmark::State& state) { run_step(state, kA2aHeavy256, "analytic"); }
void BM_A2aHeavy256_Flow(benchmark::State& state) { run_step(state, kA2aHeavy256, "flow"); }
void BM_Analytic8192(benchmark::State& state) { run_step(state, kAnalytic8192, "analytic"); }
void BM_DeepSeekV3_2048_Analytic(benchmark::State& state) { run_step(state, kDeepSeekV3, "analytic"); }
// The same with each collective priced alone, its NICs not shared (the analytic model before it
// shared them): what sharing costs.
void BM_Analytic8192_NicsApart(benchmark::State& state) { run_step(state, kAnalytic8192, "analytic", false); }
void BM_DeepSeekV3_2048_AnalyticNicsApart(benchmark::State& state) { run_step(state, kDeepSeekV3, "analytic", false); }

// One uniform all-to-all under each algorithm (analytic, 1 us per extra peer message): the
// counter sim_us is the simulated time, for the README's table of which algorithm wins where.
void BM_AllToAllAlgorithm(benchmark::State& state) {
  hardware::ClusterSpec c = *hardware::cluster_preset("h100-dgx");
  c.nodes = static_cast<int>(state.range(0));
  c.network.all_to_all = static_cast<hardware::AllToAllAlgorithm>(state.range(2));
  c.network.message_overhead = Microseconds(1);
  const int n = c.gpu_count();
  std::vector<int> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = i;
  network::TrafficMatrix t(ids);
  for (int s = 0; s < n; ++s)
    for (int d = 0; d < n; ++d) t.at(s, d) = s == d ? 0 : static_cast<double>(state.range(1));
  const network::AnalyticNetwork net = network::make_analytic_network(c);
  Duration time;
  for (auto _ : state) {
    time = network::all_to_all_cost(net, t).time;
    benchmark::DoNotOptimize(time);
  }
  state.counters["sim_us"] = time.seconds() * 1e6;
}
// `moesim bench collective` over 30 sizes (1 KiB to 512 GiB) on 512 GPUs, analytic.
void BM_BenchCollective512(benchmark::State& state) {
  hardware::ClusterSpec c = *hardware::cluster_preset("h100-dgx");
  c.nodes = 64;
  const auto op = static_cast<network::CollectiveOp>(state.range(0));
  std::vector<int> ids(c.gpu_count());
  for (int i = 0; i < c.gpu_count(); ++i) ids[i] = i;
  const auto sizes = network::collective_sizes(1 << 10, int64_t{512} << 30, 2);
  auto net = network::make_network_model(c);
  for (auto _ : state) benchmark::DoNotOptimize(network::bench_collective(*net, op, ids, sizes));
  state.counters["sizes"] = static_cast<double>(sizes.size());
}
BENCHMARK(BM_BenchCollective512)
    ->Arg(static_cast<int>(network::CollectiveOp::kAllReduce))
    ->Arg(static_cast<int>(network::CollectiveOp::kAllToAll))
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_AllToAllAlgorithm)->ArgsProduct({{1, 4, 16, 64}, {4 << 10, 256 << 10, 4 << 20}, {0, 1, 2}})->Unit(benchmark::kMillisecond);

BENCHMARK(BM_A2aHeavy256_Analytic)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_A2aHeavy256_Flow)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Analytic8192)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeepSeekV3_2048_Analytic)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Analytic8192_NicsApart)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeepSeekV3_2048_AnalyticNicsApart)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FlowSetup)->RangeMultiplier(2)->Range(128, 1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FlowStep)->RangeMultiplier(2)->Range(128, 1024)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace moesim
