// `moesim calibrate` at the size issue 21 asks for: a few hundred nccl-tests sizes, and DeepEP's
// tuning lines.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "hardware/presets.h"
#include "scenarios/loader/loader.h"
#include "sim/calibrate/deepep_fit.h"
#include "sim/calibrate/fit.h"
#include "sim/network/collective_bench.h"
#include "sim/network/network_model.h"

namespace moesim {
namespace {

// Ten logs of 31 sizes each (8 B to 8 GiB, as nccl-tests' -b 8 -e 8G -f 2): every collective on
// one node, and on two and four.
void BM_CalibrateNcclTests(benchmark::State& state) {
  hardware::ClusterSpec cluster = *hardware::cluster_preset("h100-dgx");
  cluster.nodes = 4;
  auto net = network::make_network_model(cluster);
  std::vector<calibrate::NcclTestsLog> logs;
  const auto sizes = network::collective_sizes(8, int64_t{8} << 30, 2);
  for (int nodes : {1, 2, 4}) {
    for (auto op : {network::CollectiveOp::kAllReduce, network::CollectiveOp::kAllGather, network::CollectiveOp::kAllToAll}) {
      if (logs.size() == 10) break;
      std::vector<int> gpus(8 * nodes);
      for (int i = 0; i < 8 * nodes; ++i) gpus[i] = i;
      calibrate::NcclTestsLog log{"bench.log", op, 8 * nodes, nodes, {}};
      int line = 0;
      for (const auto& s : network::bench_collective(*net, op, gpus, sizes))
        if (s.bytes >= network::kElementBytes * 8 * nodes) log.rows.push_back({++line, s.bytes, s.time.seconds() * 1.1e6, s.busbw});
      logs.push_back(std::move(log));
    }
  }
  size_t rows = 0;
  for (const auto& log : logs) rows += log.rows.size();
  for (auto _ : state) benchmark::DoNotOptimize(calibrate::calibrate(cluster, logs));
  state.counters["sizes"] = static_cast<double>(rows);
}
BENCHMARK(BM_CalibrateNcclTests)->Unit(benchmark::kMillisecond);

// The shipped DeepEP fixtures: 22 intranode lines (EP 8) and 12 internode ones (EP 16).
void BM_CalibrateDeepEp(benchmark::State& state) {
  const hardware::ClusterSpec cluster = *hardware::cluster_preset("h800-dgx");
  const std::string data = std::string(MOESIM_SOURCE_DIR) + "/tests/e2e/data/";
  const auto intranode = calibrate::read_deepep_log(data + "deepep_intranode_h800.log");
  const auto internode = calibrate::read_deepep_log(data + "deepep_internode_h800_ep16.log");
  const auto scenario = [&](const calibrate::DeepEpLog& log, int ep) {
    const int nodes = ep / 8;
    const std::string text = "cluster: {preset: h800-dgx, nodes: " + std::to_string(nodes) +
                             "}\nmodel: {preset: deepseek-v3, layers: 2, mtp_layers: 0, first_moe_layer: 0, expert_groups: " +
                             std::to_string(log.internode ? nodes : 1) + ", topk_groups: " + std::to_string(log.internode ? nodes : 1) +
                             "}\nparallelism: {ep: " + std::to_string(ep) + ", zero: 1}\ntraining: {global_batch: " + std::to_string(ep) +
                             ", micro_batch: 1, seq_len: 4096}\ndispatch: {kernel: deepep}\ngating: {source: balanced}\nsteps: 1\n";
    return calibrate::DeepEpCase{&log, ep, scenarios::load_scenario_text(text, "bench.yaml")};
  };
  const std::vector<calibrate::DeepEpCase> cases = {scenario(intranode, 8), scenario(internode, 16)};
  for (auto _ : state) benchmark::DoNotOptimize(calibrate::calibrate_deepep(cluster, cases));
  state.counters["lines"] = static_cast<double>(intranode.tunings.size() + internode.tunings.size());
}
BENCHMARK(BM_CalibrateDeepEp)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace moesim
