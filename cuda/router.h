// The MoE router of one layer and step, for the synthetic gating source: tokens are drawn in
// place (token_embedding.h), logits = X·Wᵀ with BF16 inputs and FP32 accumulation, top-k per token
// (ties: the lower expert index wins), per (source rank, expert) counts, then capacity.
//
// One interface, two implementations: the CPU reference (always built) and the CUDA kernel (built
// when a CUDA compiler is found, used when a GPU is present). Both draw identical tokens; their
// logits differ only in FP32 summation order, so assignments agree except at near-ties.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuda/token_embedding.h"

namespace moesim::router {

struct RouterProblem {
  int tokens = 0;  // tokens of this layer and step, over all ranks; token t is on rank t / (tokens / ranks)
  int ranks = 1;   // must divide tokens
  int d_model = 0;
  int experts = 0;
  int top_k = 1;
  int topics = 1;
  const float* gate = nullptr;       // [experts][d_model]
  const float* centers = nullptr;    // [topics][d_model]
  const float* topic_cdf = nullptr;  // [topics], increasing, last = 1
  float noise = 0;                   // half-width of the uniform per-dimension noise
  int64_t capacity = 0;              // per (rank, expert); 0: no capacity (dropless)
  TokenKey key{};
};

struct RouterResult {
  std::vector<int32_t> counts;       // [ranks][experts], after capacity
  std::vector<int32_t> dropped;      // [ranks][experts]
  std::vector<int32_t> assignments;  // [tokens][top_k] expert ids, best first (only if asked for)
};

class Router {
 public:
  virtual ~Router() = default;
  // Routes `p` into `out` (resized). Throws std::invalid_argument for an inconsistent problem and
  // std::runtime_error for a device failure.
  virtual void route(const RouterProblem& p, RouterResult& out, bool want_assignments) = 0;
  virtual std::string name() const = 0;
};

// The CUDA router's kernels. mma_sync runs on every GPU since Ampere. wgmma (Hopper's warp-group
// MMA) runs only on compute capability 9.0 and serves 65 to 128 experts; other expert counts
// fall back to mma_sync. wgmma has not been run on a GPU yet (cuda/README.md), so nothing
// chooses it by default.
enum class CudaKernel { mma_sync, wgmma };

std::unique_ptr<Router> make_cpu_router();
// The CUDA router; null when moesim was built without CUDA, no GPU is present, or the GPU cannot
// run `kernel`.
std::unique_ptr<Router> make_cuda_router(CudaKernel kernel = CudaKernel::mma_sync);
// The CUDA router when it can run, else the CPU reference.
std::unique_ptr<Router> make_router();

// Checks the problem's shape; throws std::invalid_argument naming the field.
void check_problem(const RouterProblem& p);
// Applies capacity to raw per-(rank, expert) counts in out.counts, filling out.dropped.
void apply_capacity(const RouterProblem& p, RouterResult& out);

}  // namespace moesim::router
