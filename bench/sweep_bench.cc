// A sweep of 8 small points (2 DGX H100 nodes of 4 GPUs, GPT-3 125M MoE, static and predictive
// placement) on 1 and 2 threads or worker processes (`processes:1`, as `moesim sweep --jobs 2`
// runs them), with points of 100 and 1,000 steps: what running points at once buys, and what a
// point costs beyond its simulation (loading, writing summary.csv, run.h5 and scenario.yaml).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "results/sweep_points.h"
#include "scenarios/loader/sweep_loader.h"
#include "sim/sweep.h"

namespace moesim {
namespace {

void BM_SweepPoints(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / ("moesim-sweep-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const int jobs = static_cast<int>(state.range(0)), steps = static_cast<int>(state.range(1));
  const bool processes = state.range(2) != 0;
  std::ofstream(dir / "base.yaml") << "steps: " << steps
                                   << "\ncluster: {preset: h100-dgx, nodes: 2, gpus_per_node: 4, nic: {count: 4}}\n"
                                      "model: {preset: gpt3-125m-moe}\ntraining: {tokens_per_step: 65536}\ngating: {source: skewed}\n"
                                      "policies: [{placement: static}, {placement: predictive, rebalance_every: 20, horizon: 10}]\n";
  std::ofstream(dir / "sweep.yaml") << "base: base.yaml\ngrid:\n  seed: [1, 2, 3, 4]\n  gating.routing: [topk, hash]\n";
  const scenarios::Sweep sweep = scenarios::load_sweep_file((dir / "sweep.yaml").string(), (dir / "out").string());
  const std::vector<int> points = {0, 1, 2, 3, 4, 5, 6, 7};
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir / "out");  // nothing to resume: every point runs
    state.ResumeTiming();
    const SweepRunStats stats = processes ? run_sweep_points_in_processes(sweep, points, jobs, results::directory_point_runner(), nullptr,
                                                                          [](std::exception_ptr) {
                                                                            return WorkerReport{1, "a sweep bench point failed"};
                                                                          })
                                          : run_sweep_points(sweep, points, jobs, results::directory_point_runner());
    benchmark::DoNotOptimize(stats.ran);
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(points.size()));
  state.counters["jobs"] = jobs;
}
BENCHMARK(BM_SweepPoints)
    ->ArgNames({"jobs", "steps", "processes"})
    ->ArgsProduct({{1, 2}, {100, 1000}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace moesim
