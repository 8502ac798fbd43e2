// The CUDA router (make_cuda_router(): uploads, the center logits, the choice of kernel) and its
// portable kernel. Each warp routes 16 * kMTiles tokens against all experts (at most 256) with the
// tensor cores' mma.m16n8k16 (BF16 in, FP32 accumulate); router_wgmma.cu is the Hopper kernel,
// router_kernel.cuh what both share:
//   - tokens live in registers only: every lane draws the Philox blocks of exactly the A-operand
//     elements it holds, and a mask plus two BF16 instructions turn each half of a 32-bit Philox
//     word into an operand register (token_embedding.h lays the bits out for this);
//   - the BF16 gate streams through shared memory 64 dimensions at a time, double-buffered with
//     cp.async and shared by the block's warps, read into B fragments with ldmatrix;
//   - the topic centers never reach the tensor cores: logit = center part (one small product per
//     topic and expert, computed once per call) + noise * accumulator;
//   - top-k over the four lanes that hold a token's row (shuffles; the lower index wins ties),
//     then a shared-memory histogram per source rank, flushed with one atomic per (rank, expert).
#include "cuda/router_kernel.cuh"

namespace moesim::router {
namespace {

using namespace kernel;

constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kChunk = kNoiseChunk;  // gate dimensions per shared-memory stage
// Gate rows padded by 8 BF16 (16 bytes): the 8 rows of an ldmatrix fall on different banks.
constexpr int kStride = kChunk + 8;

int round_up(int v, int m) { return (v + m - 1) / m * m; }

// Experts padded to 32, 64, 128 or 256: each lane then holds a compile-time number of
// accumulators, kept in registers.
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

// center·W[e] for every topic and expert: one warp each; out is [topics][experts_padded].
__global__ void center_logits_kernel(const float* centers, const __nv_bfloat16* gate, float* out, int topics, int experts,
                                     int experts_padded, int d, int d_padded) {
  const int w = static_cast<int>((blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x) / 32), lane = threadIdx.x % 32;
  if (w >= topics * experts) return;
  const int c = w / experts, e = w % experts;
  float s = 0.0f;
  for (int j = lane; j < d; j += 32)
    s += centers[static_cast<long>(c) * d + j] * __bfloat162float(gate[static_cast<long>(e) * d_padded + j]);
  for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xFFFFFFFFu, s, off);
  if (lane == 0) out[static_cast<long>(c) * experts_padded + e] = s;
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}

__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// A block routes a contiguous range of tiles of kTokensPerBlock tokens, so that it touches few
// source ranks: its histogram keeps the first two in shared memory and reaches global memory once
// per (rank, expert) at the end. (One flush per tile made the global atomics, all on the same
// ranks × experts counters, cost as much as the routing.)
// Two blocks per SM (at most 128 registers) measured fastest on an H100 at 128 experts; 256
// experts need more registers for their accumulators than that leaves.
template <int kNTiles>
constexpr int min_blocks_per_sm() {
  return kNTiles == 32 ? 1 : 2;
}

template <int kNTiles, int kMTiles>
__global__ void __launch_bounds__(kThreads, min_blocks_per_sm<kNTiles>()) route_kernel(KernelArgs a, int tiles_per_block) {
  constexpr int kExperts = 8 * kNTiles;
  constexpr int kTokensPerBlock = kWarps * 16 * kMTiles;
  extern __shared__ __align__(16) unsigned char smem[];
  __nv_bfloat16* w_tiles = reinterpret_cast<__nv_bfloat16*>(smem);  // [2][kExperts][kStride]
  __shared__ BlockHistogram hist;

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, s = lane % 4;
  const int first_tile = blockIdx.x * tiles_per_block;
  const int tile_end = min(first_tile + tiles_per_block, (a.tokens + kTokensPerBlock - 1) / kTokensPerBlock);
  const int first_rank = first_tile * kTokensPerBlock / a.tokens_per_rank;
  for (int i = tid; i < 2 * kMaxExperts; i += kThreads) (&hist[0][0])[i] = 0;

  auto load_chunk = [&](int chunk) {
    const __nv_bfloat16* src = a.gate + chunk * kChunk;
    __nv_bfloat16* dst = w_tiles + (chunk % 2) * kExperts * kStride;
    for (int i = tid; i < kExperts * (kChunk / 8); i += kThreads) {
      const int e = i / (kChunk / 8), part = (i % (kChunk / 8)) * 8;
      cp_async16(dst + e * kStride + part, src + static_cast<long>(e) * a.d_padded + part);
    }
    cp_async_commit();
  };
  const int chunks = a.d_padded / kChunk;

  for (int tile = first_tile; tile < tile_end; ++tile) {
    const int warp_first = tile * kTokensPerBlock + warp * 16 * kMTiles;
    // Rows g and g + 8 of each m-tile: one Philox block each covers this lane's 16 elements of
    // a chunk, word q feeding k-step q. The next chunk's blocks are drawn while this chunk's
    // products run, so that the integer pipes and the tensor cores work side by side.
    auto draw_chunk = [&](int chunk, uint32_t(&words)[kMTiles][2][4]) {
#pragma unroll
      for (int m = 0; m < kMTiles; ++m)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const Philox4 draw =
              token_draw(a.key, static_cast<uint32_t>(warp_first + 16 * m + 8 * h + g), static_cast<uint32_t>(4 * chunk + s));
#pragma unroll
          for (int q = 0; q < 4; ++q) words[m][h][q] = draw.v[q];
        }
    };
    float acc[kMTiles][kNTiles][4];
#pragma unroll
    for (int m = 0; m < kMTiles; ++m)
#pragma unroll
      for (int n = 0; n < kNTiles; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[m][n][i] = 0.0f;

    // Topics now: their dependent loads then hide behind the products.
    int topic[kMTiles][2];
#pragma unroll
    for (int m = 0; m < kMTiles; ++m)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int t = warp_first + 16 * m + 8 * h + g;
        topic[m][h] = t < a.tokens ? token_topic(a.key, static_cast<uint32_t>(t), a.topic_cdf, a.topics) : 0;
      }
    uint32_t words[kMTiles][2][4], next[kMTiles][2][4];
    load_chunk(0);
    draw_chunk(0, next);
    for (int c = 0; c < chunks; ++c) {
#pragma unroll
      for (int m = 0; m < kMTiles; ++m)
#pragma unroll
        for (int i = 0; i < 8; ++i) words[m][i / 4][i % 4] = next[m][i / 4][i % 4];
      if (c + 1 < chunks) {
        load_chunk(c + 1);
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      draw_chunk(c + 1, next);  // past the last chunk: drawn and unused, which keeps one basic block
      const __nv_bfloat16* w = w_tiles + (c % 2) * kExperts * kStride;
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        uint32_t frag[kMTiles][4];
#pragma unroll
        for (int m = 0; m < kMTiles; ++m) noise_operand(frag[m], words[m][0][q], words[m][1][q]);
#pragma unroll
        for (int np = 0; np < kNTiles / 2; ++np) {
          uint32_t b[4];
          ldmatrix_x4(b, w + (16 * np + 8 * (lane / 16) + lane % 8) * kStride + 16 * q + 8 * ((lane / 8) % 2));
#pragma unroll
          for (int m = 0; m < kMTiles; ++m) {
            mma_bf16(acc[m][2 * np], frag[m], b[0], b[1]);
            mma_bf16(acc[m][2 * np + 1], frag[m], b[2], b[3]);
          }
        }
      }
      __syncthreads();  // the next load overwrites this buffer
    }

#pragma unroll
    for (int m = 0; m < kMTiles; ++m)
#pragma unroll
      for (int h = 0; h < 2; ++h) count_top_k<kNTiles>(a, acc[m], h, warp_first + 16 * m + 8 * h + g, topic[m][h], s, first_rank, hist);
  }
  __syncthreads();
  flush_histogram(a, hist, first_rank, tid, kThreads);
}

template <int kNTiles, int kMTiles>
void launch(const KernelArgs& a) {
  constexpr int kTokensPerBlock = kWarps * 16 * kMTiles;
  const size_t smem = sizeof(__nv_bfloat16) * 2 * 8 * kNTiles * kStride;
  check(cudaFuncSetAttribute(route_kernel<kNTiles, kMTiles>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
        "shared memory attribute");
  const Grid grid = persistent_grid(route_kernel<kNTiles, kMTiles>, kThreads, smem, (a.tokens + kTokensPerBlock - 1) / kTokensPerBlock);
  route_kernel<kNTiles, kMTiles><<<grid.blocks, kThreads, smem>>>(a, grid.tiles_per_block);
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
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
};

class CudaRouter final : public Router {
 public:
  explicit CudaRouter(CudaKernel kernel) : kernel_(kernel) {}
  void route(const RouterProblem& p, RouterResult& out, bool want_assignments) override {
    check_problem(p);
    if (p.experts > kMaxExperts) throw std::invalid_argument("CUDA router: at most 256 experts");
    if (p.grouped() && p.expert_groups > kMaxGroups)
      throw std::invalid_argument("CUDA router: group-limited routing over more than 8 groups runs on the CPU reference");
    const int experts_padded = padded_experts(p.experts), d_padded = round_up(p.d_model, kChunk);
    gate_f_.reserve(static_cast<size_t>(p.experts) * p.d_model);
    gate_.reserve(static_cast<size_t>(experts_padded) * d_padded);
    centers_.reserve(static_cast<size_t>(p.topics) * p.d_model);
    center_logits_.reserve(static_cast<size_t>(p.topics) * experts_padded);
    cdf_.reserve(p.topics);
    const size_t cells = static_cast<size_t>(p.ranks) * p.experts;
    counts_.reserve(cells);
    if (want_assignments) assignments_.reserve(static_cast<size_t>(p.tokens) * p.top_k);
    check(cudaMemcpy(gate_f_.ptr, p.gate, sizeof(float) * p.experts * p.d_model, cudaMemcpyHostToDevice), "copy gate");
    check(cudaMemcpy(centers_.ptr, p.centers, sizeof(float) * p.topics * p.d_model, cudaMemcpyHostToDevice), "copy centers");
    check(cudaMemcpy(cdf_.ptr, p.topic_cdf, sizeof(float) * p.topics, cudaMemcpyHostToDevice), "copy topic cdf");
    check(cudaMemset(counts_.ptr, 0, sizeof(int32_t) * cells), "clear counts");
    const long padded = static_cast<long>(experts_padded) * d_padded;
    to_bf16_padded<<<static_cast<unsigned>((padded + 255) / 256), 256>>>(gate_f_.ptr, gate_.ptr, p.experts, p.d_model, experts_padded,
                                                                         d_padded);
    const long center_threads = 32L * p.topics * p.experts;
    center_logits_kernel<<<static_cast<unsigned>((center_threads + 255) / 256), 256>>>(
        centers_.ptr, gate_.ptr, center_logits_.ptr, p.topics, p.experts, experts_padded, p.d_model, d_padded);

    const KernelArgs a{gate_.ptr,
                       center_logits_.ptr,
                       cdf_.ptr,
                       p.tokens,
                       p.tokens / p.ranks,
                       d_padded,
                       p.experts,
                       experts_padded,
                       p.top_k,
                       p.topics,
                       p.noise,
                       p.key,
                       counts_.ptr,
                       want_assignments ? assignments_.ptr : nullptr,
                       p.grouped() ? p.expert_groups : 1,
                       p.grouped() ? p.topk_groups : 1};
    if (kernel_ == CudaKernel::wgmma && experts_padded == 128) {
      gate_tiled_.reserve(wgmma_gate_elems(d_padded));
      launch_wgmma(a, gate_tiled_.ptr);
    } else
      switch (experts_padded) {
        case 32: launch<4, 2>(a); break;
        case 64: launch<8, 2>(a); break;
        case 128: launch<16, 1>(a); break;
        default: launch<32, 1>(a); break;
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
  int max_expert_groups() const override { return kMaxGroups; }
  std::string name() const override {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    return std::string(kernel_ == CudaKernel::wgmma
                           ? "CUDA kernel on " + std::string(prop.name) + " (wgmma at 65-128 experts, else mma.sync)"
                           : "CUDA mma.sync kernel on " + std::string(prop.name));
  }

 private:
  CudaKernel kernel_;
  DeviceBuffer<float> gate_f_, centers_, center_logits_, cdf_;
  DeviceBuffer<__nv_bfloat16> gate_, gate_tiled_;
  DeviceBuffer<int32_t> counts_, assignments_;
};

}  // namespace

std::unique_ptr<Router> make_cuda_router(CudaKernel kernel) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    cudaGetLastError();  // clear the sticky "no device" error
    return nullptr;
  }
  if (kernel == CudaKernel::wgmma && !wgmma_available(0)) return nullptr;
  return std::make_unique<CudaRouter>(kernel);
}

}  // namespace moesim::router
