// Tokens routed per second for d_model 1024, 128 experts, top-2 (one layer-step per iteration):
// token generation, logits, top-k and counts. The GPU cases include the per-call gate upload; one
// per CUDA kernel (mma.sync on any GPU since Ampere, wgmma on Hopper). The CPU reference also at
// the quickstart's shape, and its FLOP rate beside Eigen's single-core SGEMM at the same shapes;
// the mma.sync kernel at DeepSeek-V3's shape with and without its group limit.
#include <benchmark/benchmark.h>

#include <Eigen/Dense>
#include <cmath>

#include "cuda/router.h"
#include "sim/base/random.h"

namespace moesim::router {
namespace {

// A router problem: `tokens` tokens of dimension d over `experts` experts.
struct Shape {
  std::vector<float> gate, centers, cdf;
  RouterProblem p;
  Shape(int tokens, int d, int experts, int top_k, int topics) {
    Rng rng(1, "router-bench");
    gate.resize(static_cast<size_t>(experts) * d);
    centers.resize(static_cast<size_t>(topics) * d);
    for (auto& w : gate) w = static_cast<float>(rng.normal() / std::sqrt(d));
    for (auto& c : centers) c = static_cast<float>(rng.normal());
    for (int t = 0; t < topics; ++t) cdf.push_back(static_cast<float>(t + 1) / static_cast<float>(topics));
    p = RouterProblem{tokens, 8, d, experts, top_k, topics, gate.data(), centers.data(), cdf.data(), 1.0f, 0, TokenKey{1, 0, 0}};
  }
  // Multiply-adds of one call, as a GEMM counts them: the tokens' noise against the gate, and the
  // centers' logits where the router derives them afresh.
  double flops(bool centers_kept) const { return 2.0 * p.d_model * p.experts * (p.tokens + (centers_kept ? 0 : p.topics)); }
};

void run(benchmark::State& state, Router& router, Shape s) {
  RouterResult r;
  for (auto _ : state) {
    router.route(s.p, r, false);
    benchmark::DoNotOptimize(r.counts.data());
    ++s.p.key.step;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * s.p.tokens);
  state.counters["flops"] =
      benchmark::Counter(s.flops(s.p.gate_version != 0) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(router.name());
}

// The router_bench shape of the GPU cases: d 1024, 128 experts, top-2, 16 topics.
void BM_RouterCpu(benchmark::State& state) {
  auto router = make_cpu_router();
  run(state, *router, Shape(static_cast<int>(state.range(0)), 1024, 128, 2, 16));
}
BENCHMARK(BM_RouterCpu)->Arg(8192)->Unit(benchmark::kMillisecond);

// The quickstart's learned gate (d 64, 128 experts, 256 topics): a learning minibatch of 1,024
// tokens, top-1, the centers' logits kept from the probes' call with the same gate.
void BM_RouterCpuQuickstart(benchmark::State& state) {
  auto router = make_cpu_router();
  Shape s(1024, 64, 128, 1, 256);
  s.p.gate_version = 1;
  run(state, *router, s);
}
BENCHMARK(BM_RouterCpuQuickstart)->Unit(benchmark::kMicrosecond);

// The reference: Eigen's single-precision GEMM, one core, the tokens' dimensions against the
// gate's at the same shapes (Eigen without OpenMP runs on the calling thread).
void BM_EigenSgemm(benchmark::State& state) {
  const Eigen::Index tokens = state.range(0), d = state.range(1), experts = state.range(2);
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(tokens, d), w = Eigen::MatrixXf::Random(experts, d);
  Eigen::MatrixXf logits(tokens, experts);
  for (auto _ : state) {
    logits.noalias() = x * w.transpose();
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["flops"] = benchmark::Counter(2.0 * static_cast<double>(tokens * d * experts) * static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EigenSgemm)->Args({8192, 1024, 128})->Args({1024, 64, 128})->Unit(benchmark::kMicrosecond);

void BM_RouterGpu(benchmark::State& state, CudaKernel kernel) {
  auto router = make_cuda_router(kernel);
  if (!router) {
    state.SkipWithError(kernel == CudaKernel::wgmma ? "no Hopper GPU (compute capability 9.0), or built without CUDA"
                                                    : "no CUDA GPU (or built without CUDA)");
    return;
  }
  run(state, *router, Shape(static_cast<int>(state.range(0)), 1024, 128, 2, 16));
}
BENCHMARK_CAPTURE(BM_RouterGpu, mma_sync, CudaKernel::mma_sync)->Arg(1 << 20)->Arg(1 << 23)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_RouterGpu, wgmma, CudaKernel::wgmma)->Arg(1 << 20)->Arg(1 << 23)->Unit(benchmark::kMillisecond)->UseRealTime();

// DeepSeek-V3's router shape (d 7168, 256 experts, top-8), plain and group-limited (8 groups, a
// token's top 4): what the group limit costs the mma.sync kernel. 2^20 tokens are 256 H800s'
// 4,096-token micro-batches of one layer.
void BM_RouterGpuDeepSeek(benchmark::State& state) {
  auto router = make_cuda_router(CudaKernel::mma_sync);
  if (!router) {
    state.SkipWithError("no CUDA GPU (or built without CUDA)");
    return;
  }
  Shape s(static_cast<int>(state.range(0)), 7168, 256, 8, 16);
  if (state.range(1)) {
    s.p.expert_groups = 8;
    s.p.topk_groups = 4;
  }
  run(state, *router, s);
}
BENCHMARK(BM_RouterGpuDeepSeek)
    ->ArgNames({"tokens", "grouped"})
    ->Args({1 << 20, 0})
    ->Args({1 << 20, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace moesim::router
