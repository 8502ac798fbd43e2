// Tokens routed per second for d_model 1024, 128 experts, top-2 (one layer-step per iteration):
// token generation, logits, top-k and counts. The GPU cases include the per-call gate upload; one
// per CUDA kernel (mma.sync on any GPU since Ampere, wgmma on Hopper).
#include <benchmark/benchmark.h>

#include <cmath>

#include "cuda/router.h"
#include "sim/base/random.h"

namespace moesim::router {
namespace {

struct Shape {
  std::vector<float> gate, centers, cdf;
  RouterProblem p;
  explicit Shape(int tokens) {
    Rng rng(1, "router-bench");
    gate.resize(128 * 1024);
    centers.resize(16 * 1024);
    for (auto& w : gate) w = static_cast<float>(rng.normal() / 32.0);
    for (auto& c : centers) c = static_cast<float>(rng.normal());
    for (int t = 0; t < 16; ++t) cdf.push_back(static_cast<float>(t + 1) / 16.0f);
    p = RouterProblem{tokens, 8, 1024, 128, 2, 16, gate.data(), centers.data(), cdf.data(), 1.0f, 0, TokenKey{1, 0, 0}};
  }
};

void run(benchmark::State& state, Router& router, int tokens) {
  Shape s(tokens);
  RouterResult r;
  for (auto _ : state) {
    router.route(s.p, r, false);
    benchmark::DoNotOptimize(r.counts.data());
    ++s.p.key.step;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * tokens);
  state.SetLabel(router.name());
}

void BM_RouterCpu(benchmark::State& state) {
  auto router = make_cpu_router();
  run(state, *router, static_cast<int>(state.range(0)));
}
BENCHMARK(BM_RouterCpu)->Arg(8192)->Unit(benchmark::kMillisecond);

void BM_RouterGpu(benchmark::State& state, CudaKernel kernel) {
  auto router = make_cuda_router(kernel);
  if (!router) {
    state.SkipWithError(kernel == CudaKernel::wgmma ? "no Hopper GPU (compute capability 9.0), or built without CUDA"
                                                    : "no CUDA GPU (or built without CUDA)");
    return;
  }
  run(state, *router, static_cast<int>(state.range(0)));
}
BENCHMARK_CAPTURE(BM_RouterGpu, mma_sync, CudaKernel::mma_sync)->Arg(1 << 20)->Arg(1 << 23)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_RouterGpu, wgmma, CudaKernel::wgmma)->Arg(1 << 20)->Arg(1 << 23)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace moesim::router
