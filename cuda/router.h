// The MoE router of one layer and step, for the synthetic gating source: tokens are drawn in
// place (token_embedding.h), logits = X·Wᵀ with BF16 inputs and FP32 accumulation, top-k per token
// (ties: the lower expert index wins), per (source rank, expert) counts, then capacity.
//
// Group-limited routing (DeepSeek-V3): the experts form `expert_groups` groups of consecutive
// experts; a group scores the sum of its two best sigmoid affinities (its one best when groups
// hold one expert), and a token's top-k is taken only among the `topk_groups` groups scoring
// best (ties: the lower group index wins). Experts of one group are usually placed on one node,
// which bounds the nodes a token is sent to.
//
// One interface, two implementations: the CPU reference (always built) and the CUDA kernel (built
// when a CUDA compiler is found, used when a GPU is present). Both draw identical tokens; their
// logits differ only in FP32 summation order, so assignments agree except at near-ties.
#pragma once

#include <cstdint>
#include <limits>
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
  int expert_groups = 1;  // must divide experts; 1: no limit
  int topk_groups = 1;    // groups a token may use; with them top_k must fit: topk_groups * experts / expert_groups >= top_k
  // Names the contents of `gate` and `centers`: a router may keep what it derived from them
  // (their BF16 copies, the centers' logits) for the next problem with the same non-zero version
  // and pointers. 0: derive afresh.
  uint64_t gate_version = 0;
  // Every token's noise u as token_noise() draws it ([tokens][d_model]), where the caller already
  // has it: a router may read it instead of drawing it again (the same values either way).
  const float* token_noise = nullptr;
  // Every token's topic as token_topic() draws it, where the caller already has it (read as
  // token_noise is).
  const int* token_topics = nullptr;
  bool grouped() const { return expert_groups > 1 && topk_groups < expert_groups; }
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
  // The most expert groups of a group-limited problem that route() takes (the CUDA kernels keep
  // each group's score in registers).
  virtual int max_expert_groups() const { return std::numeric_limits<int>::max(); }
};

// The CUDA router's kernels. mma_sync runs on every GPU since Ampere. wgmma (Hopper's warp-group
// MMA) runs only on compute capability 9.0 and serves 65 to 128 experts; other expert counts
// fall back to mma_sync. make_router() prefers wgmma where the GPU has it (cuda/README.md: it
// agrees with the CPU reference and routes 22 % more tokens a second on an H200).
enum class CudaKernel { mma_sync, wgmma };

std::unique_ptr<Router> make_cpu_router();
// The CUDA router; null when moesim was built without CUDA, no GPU is present, or the GPU cannot
// run `kernel`.
std::unique_ptr<Router> make_cuda_router(CudaKernel kernel = CudaKernel::mma_sync);
// The CUDA router when it can run (and route a model whose group-limited routing has
// `expert_groups` groups; 1: not group-limited), with wgmma where the GPU has it; else the CPU
// reference.
std::unique_ptr<Router> make_router(int expert_groups = 1);

// Checks the problem's shape; throws std::invalid_argument naming the field.
void check_problem(const RouterProblem& p);
// Group-limited routing: clears allowed[e] (sized experts) for the experts outside the token's
// topk_groups best groups, given its logits.
void allowed_experts(const RouterProblem& p, const float* logits, std::vector<uint8_t>& allowed);
// Applies capacity to raw per-(rank, expert) counts in out.counts, filling out.dropped.
void apply_capacity(const RouterProblem& p, RouterResult& out);

}  // namespace moesim::router
