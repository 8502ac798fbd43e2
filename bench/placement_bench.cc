// Planning one MoE layer's placement at the quickstart's shape: 128 experts over 32 EP ranks on 4
// nodes. Packing (predictive), EPLB-style replication, and affinity (packing, then Kernighan-Lin
// on the co-activation graph, then GPUs to nodes). A policy plans every MoE layer at every
// rebalance, so a plan of a 12-layer model costs 12 times these.
#include <benchmark/benchmark.h>

#include "policies/placement/affinity.h"
#include "policies/placement/packing.h"
#include "policies/placement/replication.h"
#include "sim/base/random.h"

namespace moesim::policies {
namespace {

constexpr int kExperts = 128, kRanks = 32, kRanksPerNode = 8;

std::vector<double> skewed_loads() {
  Rng rng(1, "bench.placement.loads");
  std::vector<double> loads(kExperts);
  for (double& v : loads) v = 1.0 / (0.2 + rng.uniform());
  return loads;
}

// Top-2 co-activation: every expert's share of pairs spread over a few favourite partners.
CoactivationGraph coactivation() {
  Rng rng(2, "bench.placement.pairs");
  std::vector<double> pairs(static_cast<size_t>(kExperts) * kExperts, 0.0);
  for (int e = 0; e < kExperts; ++e) {
    for (int k = 0; k < 8; ++k) {
      const int f = static_cast<int>(rng.below(kExperts));
      if (f == e) continue;
      const double w = rng.uniform() / kExperts;
      pairs[static_cast<size_t>(e) * kExperts + f] += w;
      pairs[static_cast<size_t>(f) * kExperts + e] += w;
    }
  }
  return coactivation_graph(pairs, kExperts);
}

void BM_PackLayer(benchmark::State& state) {
  const auto loads = skewed_loads();
  for (auto _ : state) benchmark::DoNotOptimize(pack_experts(loads, kRanks, kExperts / kRanks, {}));
}
BENCHMARK(BM_PackLayer)->Unit(benchmark::kMicrosecond);

void BM_ReplicateLayer(benchmark::State& state) {
  const auto loads = skewed_loads();
  const ReplicationShape shape{kRanks, kRanksPerNode, kExperts / kRanks + 1, kRanks};
  for (auto _ : state) benchmark::DoNotOptimize(replicate_layer(loads, shape));
}
BENCHMARK(BM_ReplicateLayer)->Unit(benchmark::kMicrosecond);

void BM_AffinityLayer(benchmark::State& state) {
  const auto loads = skewed_loads();
  const auto graph = coactivation();
  const AffinityShape shape{kRanks, kRanksPerNode, 1.1};
  for (auto _ : state) benchmark::DoNotOptimize(affinity_pack(loads, graph, shape, {}));
}
BENCHMARK(BM_AffinityLayer)->Unit(benchmark::kMillisecond);

void BM_CoactivationGraph(benchmark::State& state) {
  Rng rng(3, "bench.placement.dense");
  std::vector<double> pairs(static_cast<size_t>(kExperts) * kExperts);
  for (double& v : pairs) v = rng.uniform();
  for (auto _ : state) benchmark::DoNotOptimize(coactivation_graph(pairs, kExperts));
}
BENCHMARK(BM_CoactivationGraph)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace moesim::policies
