// Sampling one rank's row of a layer (models/gating/rank_sampling.h) at DeepSeek-V3's shape: 256
// experts, 4,096 tokens a rank, top-8, Zipf-skewed shares as the skewed source draws them. A step
// of bench/scenarios/deepseek_v3_2048.yaml samples 58 layers x 2,048 ranks of these rows.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "models/gating/rank_sampling.h"
#include "sim/base/random.h"

namespace moesim::gating {
namespace {

void BM_RankSamplerRow(benchmark::State& state) {
  const int experts = static_cast<int>(state.range(0));
  std::vector<double> shares(experts);
  double sum = 0;
  for (int e = 0; e < experts; ++e) sum += shares[e] = 1.0 / std::pow(e + 1.0, 0.6);
  for (double& s : shares) s /= sum;
  cap_shares(shares, 8);
  RankSampler sampler;
  sampler.prepare(shares, 4096, 8);
  Rng rng(1, "gating-bench");
  std::vector<int32_t> row(experts);
  std::vector<int64_t> loads(experts);
  for (auto _ : state) {
    sampler.sample(rng, row, loads);
    benchmark::DoNotOptimize(row.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * experts);
}
BENCHMARK(BM_RankSamplerRow)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace moesim::gating
