// The CUDA router: one thread block routes 128 tokens against all experts.
//   1. each token's topic, then its embedding, generated in place (Philox) into shared memory as
//      BF16, 64 dimensions at a time, while the matching slice of the gate weights is loaded;
//   2. logits on the tensor cores (WMMA 16x16x16, BF16 in, FP32 accumulate);
//   3. top-k per token (lower index wins ties) and a shared-memory histogram per source rank,
//      flushed to global memory with one atomic per (rank, expert) touched.
// The gate weights are converted to BF16 once per call; tokens never touch global memory.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdio>
#include <stdexcept>

#include "cuda/router.h"

namespace moesim::router {
namespace {

constexpr int kTokensPerBlock = 128;
constexpr int kChunk = 64;  // embedding dimensions per shared-memory tile
constexpr int kThreads = 256;
// Shared-memory rows are padded by 8 BF16 (16 bytes) so that WMMA's row loads spread over banks.
constexpr int kStride = kChunk + 8;
static_assert(kThreads * 32 == kTokensPerBlock * kChunk, "each thread generates 32 values of the X tile");
constexpr int kMaxExperts = 256;
// Topic centers of the current chunk are staged in shared memory when there are at most this many.
constexpr int kMaxStagedTopics = 32;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA router: ") + what + ": " + cudaGetErrorString(e));
}

int round_up(int v, int m) { return (v + m - 1) / m * m; }

// Experts are padded to 32, 64, 128 or 256 so that each warp holds a compile-time number of
// accumulator fragments (kept in registers).
int padded_experts(int e) {
  int p = 32;
  while (p < e) p *= 2;
  return p;
}

__global__ void to_bf16_padded(const float* in, __nv_bfloat16* out, int rows, int cols, int padded_rows, int padded_cols) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(padded_rows) * padded_cols) return;
  const int r = static_cast<int>(i / padded_cols), c = static_cast<int>(i % padded_cols);
  const float v = r < rows && c < cols ? in[static_cast<long>(r) * cols + c] : 0.0f;
  const uint16_t bits = to_bf16_bits(v);
  out[i] = *reinterpret_cast<const __nv_bfloat16*>(&bits);
}

struct KernelArgs {
  const __nv_bfloat16* gate;  // [experts_padded][d_padded]
  const float* centers;       // [topics][d]
  const float* topic_cdf;
  int tokens, tokens_per_rank, d, d_padded, experts, experts_padded, top_k, topics;
  float noise;
  TokenKey key;
  int32_t* counts;       // [ranks][experts]
  int32_t* assignments;  // [tokens][top_k] or null
};

template <int kColFrags>
__global__ void __launch_bounds__(kThreads) route_kernel(KernelArgs a) {
  using namespace nvcuda;
  extern __shared__ __align__(16) unsigned char smem[];
  // Phase 1-2 layout: X tile [tokens][kStride] then W tile [experts_padded][kStride] (BF16).
  // Phase 3 reuses the same memory for the logits [experts_padded][tokens] (FP32).
  __nv_bfloat16* x_tile = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* w_tile = x_tile + kTokensPerBlock * kStride;
  float* logits = reinterpret_cast<float*>(smem);
  __shared__ int topic[kTokensPerBlock];
  // Rows padded to kChunk + 1 floats: lanes reading one column of different topics hit different banks.
  __shared__ float center_tile[kMaxStagedTopics][kChunk + 1];
  const bool staged = a.topics <= kMaxStagedTopics;
  __shared__ int hist_rank[2];
  __shared__ int hist[2][kMaxExperts];

  const int first = blockIdx.x * kTokensPerBlock;
  const int tid = threadIdx.x, warp = tid / 32;
  if (tid < kTokensPerBlock) {
    const int t = first + tid;
    topic[tid] = t < a.tokens ? token_topic(a.key, static_cast<uint32_t>(t), a.topic_cdf, a.topics) : 0;
  }
  // A block of 128 tokens spans at most two ranks when tokens_per_rank >= 128, and the histogram
  // keeps one row per rank; smaller ranks go straight to global atomics.
  const bool local_hist = a.tokens_per_rank >= kTokensPerBlock;
  if (tid < 2) hist_rank[tid] = first / a.tokens_per_rank + tid;
  for (int i = tid; i < 2 * kMaxExperts; i += kThreads) (&hist[0][0])[i] = 0;

  // Warp w computes rows 32*(w%4) .. +32 (two A fragments share every B fragment) and half of
  // the expert columns.
  const int row0 = 32 * (warp % 4);
  constexpr int col_frags = kColFrags;  // 16-wide fragments per half of the experts
  const int col0 = (warp / 4) * (a.experts_padded / 2);
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][kColFrags];
  for (int f = 0; f < col_frags; ++f) {
    wmma::fill_fragment(acc[0][f], 0.0f);
    wmma::fill_fragment(acc[1][f], 0.0f);
  }
  __syncthreads();

  for (int base = 0; base < a.d_padded; base += kChunk) {
    if (staged) {
      for (int i = tid; i < a.topics * kChunk; i += kThreads) {
        const int c = i / kChunk, j = base + i % kChunk;
        center_tile[c][i % kChunk] = j < a.d ? a.centers[static_cast<long>(c) * a.d + j] : 0.0f;
      }
      __syncthreads();
    }
    // Generate the X tile: each thread fills 32 dimensions of one token (4 Philox draws);
    // consecutive lanes take consecutive tokens.
    {
      const int r = tid % kTokensPerBlock, q0 = (tid / kTokensPerBlock) * 32;
      const int t = first + r;
      const float* center_global = a.centers + static_cast<long>(topic[r]) * a.d;
      for (int q = q0; q < q0 + 32; q += 8) {
        const int j = base + q;
        const Philox4 draw = token_draw(a.key, static_cast<uint32_t>(t), noise_block(j));
        uint16_t bits[8];
        for (int i = 0; i < 8; ++i) {
          const bool real = t < a.tokens && j + i < a.d;
          const float center = !real ? 0.0f : staged ? center_tile[topic[r]][q + i] : center_global[j + i];
          bits[i] = real ? to_bf16_bits(embedding_value(center, a.noise, uniform_noise(draw, j + i))) : 0;
        }
        *reinterpret_cast<uint4*>(x_tile + r * kStride + q) = *reinterpret_cast<const uint4*>(bits);
      }
    }
    // Load the W tile [experts_padded][kChunk], 8 BF16 (16 bytes) per load.
    for (int i = tid; i < a.experts_padded * (kChunk / 8); i += kThreads) {
      const int e = i / (kChunk / 8), c = (i % (kChunk / 8)) * 8;
      *reinterpret_cast<uint4*>(w_tile + e * kStride + c) =
          *reinterpret_cast<const uint4*>(a.gate + static_cast<long>(e) * a.d_padded + base + c);
    }
    __syncthreads();
    for (int kk = 0; kk < kChunk; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> xa[2];
      wmma::load_matrix_sync(xa[0], x_tile + row0 * kStride + kk, kStride);
      wmma::load_matrix_sync(xa[1], x_tile + (row0 + 16) * kStride + kk, kStride);
      for (int f = 0; f < col_frags; ++f) {
        // W is [expert][dim]: as the K x N matrix B it is column-major with leading dim kStride.
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> wb;
        wmma::load_matrix_sync(wb, w_tile + (col0 + 16 * f) * kStride + kk, kStride);
        wmma::mma_sync(acc[0][f], xa[0], wb, acc[0][f]);
        wmma::mma_sync(acc[1][f], xa[1], wb, acc[1][f]);
      }
    }
    __syncthreads();
  }
  for (int f = 0; f < col_frags; ++f) {
    // Column-major [expert][token]: in the top-k scan below, consecutive threads (tokens) read
    // consecutive words, free of bank conflicts.
    wmma::store_matrix_sync(logits + (col0 + 16 * f) * kTokensPerBlock + row0, acc[0][f], kTokensPerBlock, wmma::mem_col_major);
    wmma::store_matrix_sync(logits + (col0 + 16 * f) * kTokensPerBlock + row0 + 16, acc[1][f], kTokensPerBlock,
                            wmma::mem_col_major);
  }
  __syncthreads();

  if (tid < kTokensPerBlock && first + tid < a.tokens) {
    const int t = first + tid;
    const float* l = logits + tid;  // logit of expert e at l[e * kTokensPerBlock]
    int best[16];
    int found = 0;
    for (int e = 0; e < a.experts; ++e) {
      int pos = found < a.top_k ? found : a.top_k;
      const float v = l[e * kTokensPerBlock];
      while (pos > 0 && v > l[best[pos - 1] * kTokensPerBlock]) --pos;
      if (pos >= a.top_k) continue;
      for (int q = (found < a.top_k ? found : a.top_k - 1); q > pos; --q) best[q] = best[q - 1];
      best[pos] = e;
      if (found < a.top_k) ++found;
    }
    const int rank = t / a.tokens_per_rank;
    for (int q = 0; q < a.top_k; ++q) {
      if (local_hist) atomicAdd(&hist[rank - hist_rank[0]][best[q]], 1);
      else atomicAdd(&a.counts[static_cast<long>(rank) * a.experts + best[q]], 1);
      if (a.assignments) a.assignments[static_cast<long>(t) * a.top_k + q] = best[q];
    }
  }
  if (!local_hist) return;
  __syncthreads();
  const int ranks = (a.tokens + a.tokens_per_rank - 1) / a.tokens_per_rank;
  for (int i = tid; i < 2 * a.experts; i += kThreads) {
    const int h = i / a.experts, e = i % a.experts;
    if (hist[h][e] && hist_rank[h] < ranks) atomicAdd(&a.counts[static_cast<long>(hist_rank[h]) * a.experts + e], hist[h][e]);
  }
}

template <int kColFrags>
void launch(const KernelArgs& a, unsigned blocks, size_t smem) {
  check(cudaFuncSetAttribute(route_kernel<kColFrags>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
        "shared memory attribute");
  route_kernel<kColFrags><<<blocks, kThreads, smem>>>(a);
}

template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t size = 0;
  void reserve(size_t n) {
    if (n <= size) return;
    if (ptr) cudaFree(ptr);
    check(cudaMalloc(&ptr, n * sizeof(T)), "cudaMalloc");
    size = n;
  }
  ~DeviceBuffer() { if (ptr) cudaFree(ptr); }
};

class CudaRouter final : public Router {
 public:
  void route(const RouterProblem& p, RouterResult& out, bool want_assignments) override {
    check_problem(p);
    if (p.experts > kMaxExperts) throw std::invalid_argument("CUDA router: at most 256 experts");
    const int experts_padded = padded_experts(p.experts), d_padded = round_up(p.d_model, kChunk);
    gate_f_.reserve(static_cast<size_t>(p.experts) * p.d_model);
    gate_.reserve(static_cast<size_t>(experts_padded) * d_padded);
    centers_.reserve(static_cast<size_t>(p.topics) * p.d_model);
    cdf_.reserve(p.topics);
    const size_t cells = static_cast<size_t>(p.ranks) * p.experts;
    counts_.reserve(cells);
    if (want_assignments) assignments_.reserve(static_cast<size_t>(p.tokens) * p.top_k);
    check(cudaMemcpy(gate_f_.ptr, p.gate, sizeof(float) * p.experts * p.d_model, cudaMemcpyHostToDevice), "copy gate");
    check(cudaMemcpy(centers_.ptr, p.centers, sizeof(float) * p.topics * p.d_model, cudaMemcpyHostToDevice), "copy centers");
    check(cudaMemcpy(cdf_.ptr, p.topic_cdf, sizeof(float) * p.topics, cudaMemcpyHostToDevice), "copy topic cdf");
    check(cudaMemset(counts_.ptr, 0, sizeof(int32_t) * cells), "clear counts");
    const long padded = static_cast<long>(experts_padded) * d_padded;
    to_bf16_padded<<<static_cast<unsigned>((padded + 255) / 256), 256>>>(gate_f_.ptr, gate_.ptr, p.experts, p.d_model, experts_padded, d_padded);

    KernelArgs a{gate_.ptr, centers_.ptr, cdf_.ptr, p.tokens, p.tokens / p.ranks, p.d_model, d_padded, p.experts,
                 experts_padded, p.top_k, p.topics, p.noise, p.key, counts_.ptr, want_assignments ? assignments_.ptr : nullptr};
    const size_t tiles = sizeof(__nv_bfloat16) * (kTokensPerBlock + experts_padded) * kStride;
    const size_t logit_bytes = sizeof(float) * kTokensPerBlock * experts_padded;
    const size_t smem = tiles > logit_bytes ? tiles : logit_bytes;
    const unsigned blocks = static_cast<unsigned>((p.tokens + kTokensPerBlock - 1) / kTokensPerBlock);
    switch (experts_padded) {
      case 32: launch<1>(a, blocks, smem); break;
      case 64: launch<2>(a, blocks, smem); break;
      case 128: launch<4>(a, blocks, smem); break;
      default: launch<8>(a, blocks, smem); break;
    }
    check(cudaGetLastError(), "launch");
    out.counts.resize(cells);
    check(cudaMemcpy(out.counts.data(), counts_.ptr, sizeof(int32_t) * cells, cudaMemcpyDeviceToHost), "copy counts");
    if (want_assignments) {
      out.assignments.resize(static_cast<size_t>(p.tokens) * p.top_k);
      check(cudaMemcpy(out.assignments.data(), assignments_.ptr, sizeof(int32_t) * out.assignments.size(), cudaMemcpyDeviceToHost),
            "copy assignments");
    }
    apply_capacity(p, out);
  }
  std::string name() const override {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    return std::string("CUDA kernel on ") + prop.name;
  }

 private:
  DeviceBuffer<float> gate_f_, centers_, cdf_;
  DeviceBuffer<__nv_bfloat16> gate_;
  DeviceBuffer<int32_t> counts_, assignments_;
};

}  // namespace

std::unique_ptr<Router> make_cuda_router() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    cudaGetLastError();  // clear the sticky "no device" error
    return nullptr;
  }
  return std::make_unique<CudaRouter>();
}

}  // namespace moesim::router
