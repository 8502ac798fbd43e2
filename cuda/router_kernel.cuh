// Device code shared by the CUDA router's kernels (router_cuda.cu: mma.sync, any GPU since
// Ampere; router_wgmma.cu: Hopper's wgmma): the kernel arguments, cp.async, the noise operands,
// and the per-token top-k and histogram that follow the products. Both kernels hold their
// accumulators in the tensor cores' m16n8 layout, so they share everything after the products.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "cuda/router.h"
#include "cuda/top_k_tree.h"

namespace moesim::router::kernel {

constexpr int kMaxExperts = 256;
// Group-limited routing keeps each group's score in registers: at most this many groups (more
// route on the CPU reference; DeepSeek-V3 has 8).
constexpr int kMaxGroups = 8;

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA router: ") + what + ": " + cudaGetErrorString(e));
}

struct KernelArgs {
  const __nv_bfloat16* gate;   // [experts_padded][d_padded], zero padded
  const float* center_logits;  // [topics][experts_padded]: rows 8-byte aligned for float2 loads
  const float* topic_cdf;
  int tokens, tokens_per_rank, d_padded, experts, experts_padded, top_k, topics;
  float noise;
  TokenKey key;
  int32_t* counts;                 // [ranks][experts]
  int32_t* assignments;            // [tokens][top_k] or null
  int expert_groups, topk_groups;  // group-limited routing when topk_groups < expert_groups
};

__device__ __forceinline__ void cp_async16(void* smem, const void* global) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(global));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

// Two noise variates (2k - 127) / 128 as a BF16 pair, from the 7-bit fields at bits 0 and 16.
__device__ __forceinline__ uint32_t noise_pair(uint32_t fields) {
  uint32_t x = (fields & 0x007F007Fu) | 0x43004300u;  // BF16 128 + k, exact
  __nv_bfloat162 v = *reinterpret_cast<__nv_bfloat162*>(&x);
  const uint32_t scale = 0x3C803C80u, minus_two = 0xC000C000u, minus_127_128 = 0xBF7EBF7Eu;  // 1/64, -2, -127/128
  v = __hfma2(v, *reinterpret_cast<const __nv_bfloat162*>(&scale), *reinterpret_cast<const __nv_bfloat162*>(&minus_two));  // k / 64
  v = __hadd2(v, *reinterpret_cast<const __nv_bfloat162*>(&minus_127_128));
  return *reinterpret_cast<uint32_t*>(&v);
}

// The A operand of one k16 step for rows g and g + 8 of a 16-row slice, from word q of each
// row's Philox block (token_embedding.h lays the bits out for this).
__device__ __forceinline__ void noise_operand(uint32_t (&frag)[4], uint32_t row_g, uint32_t row_g8) {
  frag[0] = noise_pair(row_g);        // row g,     columns 2s, 2s + 1
  frag[1] = noise_pair(row_g8);       // row g + 8
  frag[2] = noise_pair(row_g >> 8);   // row g,     columns 2s + 8, 2s + 9
  frag[3] = noise_pair(row_g8 >> 8);  // row g + 8
}

// A block's histogram keeps the first two source ranks it touches in shared memory; the others
// (a block spanning more ranks) go straight to global memory.
using BlockHistogram = int[2][kMaxExperts];

// Group-limited routing (router.h), for the row whose slots this lane holds: the mask of slots
// whose experts lie outside the row's topk_groups best groups, which the top-k then skips as if
// taken. A group scores the sigmoids of its two best logits (sigmoid is increasing, so these are
// its two best affinities), summed in double as the CPU reference does. Groups are consecutive
// experts, and a lane's slots hold its experts in increasing order, so each group is a range of
// the lane's slots.
template <int kSlots>
__device__ __forceinline__ uint64_t outside_best_groups(const KernelArgs& a, const float (&v)[kSlots], int s) {
  const int size = a.experts / a.expert_groups;
  double score[kMaxGroups];
#pragma unroll
  for (int group = 0; group < kMaxGroups; ++group) {
    score[group] = 0;
    if (group >= a.expert_groups) continue;  // the same for every lane: the shuffles stay converged
    const int first_slot = lane_slots_below(group * size, s), end_slot = lane_slots_below((group + 1) * size, s);
    float first = -INFINITY, second = -INFINITY;
#pragma unroll
    for (int i = 0; i < kSlots; ++i) {
      if (i < first_slot || i >= end_slot) continue;
      second = fmaxf(second, fminf(first, v[i]));
      first = fmaxf(first, v[i]);
    }
    // The two best of the row's four lanes.
#pragma unroll
    for (int off = 1; off <= 2; off *= 2) {
      const float other_first = __shfl_xor_sync(0xFFFFFFFFu, first, off);
      const float other_second = __shfl_xor_sync(0xFFFFFFFFu, second, off);
      second = fmaxf(fminf(first, other_first), fmaxf(second, other_second));
      first = fmaxf(first, other_first);
    }
    auto sigmoid = [](float x) { return 1.0 / (1.0 + exp(-static_cast<double>(x))); };
    score[group] = sigmoid(first) + (size > 1 ? sigmoid(second) : 0.0);
  }
  uint64_t outside = 0;
#pragma unroll
  for (int group = 0; group < kMaxGroups; ++group) {
    if (group >= a.expert_groups) continue;
    int better = 0;  // groups ranked above this one (ties: the lower index)
#pragma unroll
    for (int other = 0; other < kMaxGroups; ++other)
      better += other < a.expert_groups && (score[other] > score[group] || (score[other] == score[group] && other < group));
    if (better < a.topk_groups) continue;
    const int first_slot = lane_slots_below(group * size, s), end_slot = lane_slots_below((group + 1) * size, s);
    outside |= (end_slot >= 64 ? ~0ull : (1ull << end_slot) - 1) & ~((1ull << first_slot) - 1);
  }
  return outside;
}

// Top-k of token t and its count. Lane (g, s) holds, in acc[n][2h + b], expert 8n + 2s + b of
// row h (g or g + 8) of its 16-row slice: the m16n8 accumulator layout of both mma.sync and
// wgmma. All four lanes of the row take part (shuffles).
template <int kNTiles>
__device__ __forceinline__ void count_top_k(const KernelArgs& a, const float (&acc)[kNTiles][4], int h, int t, int topic, int s,
                                            int first_rank, BlockHistogram& hist) {
  const bool real = t < a.tokens;
  const int rank = t / a.tokens_per_rank;
  const float* center_part = a.center_logits + static_cast<long>(topic) * a.experts_padded;
  // Local slot i = 2n + b holds expert 8n + 2s + b; padding slots hold -inf (logits are
  // finite), chosen ones are marked in `taken` (v stays read-only, so it stays in registers).
  constexpr int kSlots = 2 * kNTiles;
  float v[kSlots];
#pragma unroll
  for (int n = 0; n < kNTiles; ++n) {
    const int e = 8 * n + 2 * s;  // even, and experts is even or e + 1 is padding
    const float2 center = e + 1 < a.experts ? __ldg(reinterpret_cast<const float2*>(center_part + e))
                                            : make_float2(e < a.experts ? __ldg(center_part + e) : 0.0f, 0.0f);
    v[2 * n] = e < a.experts ? combine_logit(center.x, a.noise, acc[n][2 * h]) : -INFINITY;
    v[2 * n + 1] = e + 1 < a.experts ? combine_logit(center.y, a.noise, acc[n][2 * h + 1]) : -INFINITY;
  }
  uint64_t taken = a.topk_groups < a.expert_groups ? outside_best_groups<kSlots>(a, v, s) : 0;
  for (int r = 0; r < a.top_k; ++r) {
    // The lane's best slot, then the best of the four lanes that share the row.
    float top;
    const int best = best_untaken<kSlots>(v, taken, top);
    const int mine = 8 * (best / 2) + 2 * s + best % 2;
    int expert = mine;
#pragma unroll
    for (int off = 1; off <= 2; off *= 2) {
      const float other = __shfl_xor_sync(0xFFFFFFFFu, top, off);
      const int other_expert = __shfl_xor_sync(0xFFFFFFFFu, expert, off);
      if (other > top || (other == top && other_expert < expert)) {
        top = other;
        expert = other_expert;
      }
    }
    if (expert == mine) taken |= 1ull << best;
    if (s == 0 && real) {
      if (rank - first_rank < 2)
        atomicAdd(&hist[rank - first_rank][expert], 1);
      else
        atomicAdd(&a.counts[static_cast<long>(rank) * a.experts + expert], 1);
      if (a.assignments) a.assignments[static_cast<long>(t) * a.top_k + r] = expert;
    }
  }
}

// After the block's last token (and a barrier): one global atomic per (rank, expert) counted.
__device__ __forceinline__ void flush_histogram(const KernelArgs& a, const BlockHistogram& hist, int first_rank, int tid, int threads) {
  const int ranks = a.tokens / a.tokens_per_rank;
  for (int i = tid; i < 2 * a.experts; i += threads) {
    const int row = i / a.experts, e = i % a.experts;
    if (hist[row][e] && first_rank + row < ranks) atomicAdd(&a.counts[static_cast<long>(first_rank + row) * a.experts + e], hist[row][e]);
  }
}

// A persistent launch: as many blocks as fit on the GPU at once, each taking an equal share of
// the tiles (a contiguous range, so that a block touches few source ranks).
struct Grid {
  unsigned blocks;
  int tiles_per_block;
};
template <typename Kernel>
Grid persistent_grid(Kernel kernel, int threads, size_t smem, int tiles) {
  int device = 0, sms = 0, per_sm = 0;
  check(cudaGetDevice(&device), "device");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "SM count");
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem), "occupancy");
  const int resident = sms * (per_sm > 0 ? per_sm : 1);
  const int tiles_per_block = (tiles + resident - 1) / resident;
  return Grid{static_cast<unsigned>((tiles + tiles_per_block - 1) / tiles_per_block), tiles_per_block};
}

// The Hopper kernel (router_wgmma.cu). It covers 65 to 128 experts (a.experts_padded == 128) on
// a compute capability 9.0 device, the only one its sm_90a code runs on.
bool wgmma_available(int device);
// Elements of the rearranged gate that launch_wgmma() needs as scratch, for a.d_padded = d_padded.
size_t wgmma_gate_elems(int d_padded);
void launch_wgmma(const KernelArgs& a, __nv_bfloat16* gate_tiled);

}  // namespace moesim::router::kernel
