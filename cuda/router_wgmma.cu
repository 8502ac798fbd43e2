// The CUDA router on Hopper (sm_90a): the same routing as router_cuda.cu, with the products on
// warp-group MMA (wgmma.mma_async, m64n128k16, BF16 in, FP32 accumulate) for 65 to 128 experts.
//   - A warp group (4 warps) routes 64 tokens against all 128 (padded) experts; a block holds
//     kWarpGroups of them and walks a contiguous range of tiles, like the mma.sync kernel.
//   - The A operand (noise) comes from registers, drawn from Philox exactly as the mma.sync kernel
//     draws it: wgmma's register layout for A is m16n8k16's, one 16-row slice per warp.
//   - The B operand (the gate) comes from shared memory through a matrix descriptor, so there is
//     no ldmatrix; 64 dimensions per stage, kStages stages in flight with cp.async. The gate is
//     first rearranged in global memory into the stage layout (tile_gate_kernel) so that a stage
//     is one contiguous copy.
//   - wgmma runs asynchronously: the Philox blocks of chunk c + 1 are drawn while chunk c's
//     products run, in a second set of operand registers.
// Everything after the products (top-k, histogram) is router_kernel.cuh's, shared with the
// mma.sync kernel: wgmma's accumulator layout is m16n8's, repeated over the 16 n-tiles.
#include "cuda/router_kernel.cuh"
#include "cuda/wgmma_layout.h"

namespace moesim::router::kernel {
namespace {

using wgmma_layout::kExperts;
using wgmma_layout::kStageElems;
using wgmma_layout::kStepElems;
constexpr int kWarpGroups = 3;
constexpr int kThreads = 128 * kWarpGroups;
constexpr int kTileTokens = 64 * kWarpGroups;
constexpr int kStages = 4;  // of wgmma_layout::kStageElems BF16 (16 KiB) each
static_assert(wgmma_layout::kStageDims == kNoiseChunk, "a stage holds one chunk of the token's noise");

// The gate in the stage layout (wgmma_layout.h), chunk after chunk, zero padded: one thread per
// element of the mma.sync path's row-major BF16 gate [128][chunks · 64].
__global__ void tile_gate_kernel(const __nv_bfloat16* gate, __nv_bfloat16* tiled, int d_padded, int chunks) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  const int dims = chunks * kNoiseChunk;
  if (i >= static_cast<long>(kExperts) * dims) return;
  const int e = static_cast<int>(i / dims), j = static_cast<int>(i % dims), chunk = j / kNoiseChunk;
  tiled[static_cast<long>(chunk) * kStageElems + wgmma_layout::stage_offset(e, j % kNoiseChunk)] =
      j < d_padded ? gate[static_cast<long>(e) * d_padded + j] : __float2bfloat16(0.0f);
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

constexpr int kNTiles = kExperts / 8;

// Shared-memory matrix descriptor of the B operand at `smem` (16-byte units; wgmma_layout.h).
__device__ __forceinline__ uint64_t matrix_descriptor(const void* smem) {
  const uint32_t address = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  return static_cast<uint64_t>((address & 0x3FFFFu) >> 4) | wgmma_layout::kDescriptorOffsets;
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// Makes this thread's generic-proxy shared-memory writes (cp.async) visible to wgmma's reads.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Keeps the compiler from moving accumulator reads or writes across the wgmma fences and waits.
__device__ __forceinline__ void pin(float (&acc)[kNTiles][4]) {
#pragma unroll
  for (int n = 0; n < kNTiles; ++n)
#pragma unroll
    for (int i = 0; i < 4; ++i) asm volatile("" : "+f"(acc[n][i])::"memory");
}

// acc += A · B for one k16 step: A (64 × 16) from registers, B (16 × 128) from shared memory.
__device__ __forceinline__ void wgmma_m64n128k16(float (&acc)[kNTiles][4], const uint32_t (&a)[4], uint64_t b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "{%64, %65, %66, %67}, %68, 1, 1, 1, 0;\n"  // scale-d (accumulate), scale-a, scale-b, B not transposed
      : "+f"(acc[0][0]), "+f"(acc[0][1]), "+f"(acc[0][2]), "+f"(acc[0][3]), "+f"(acc[1][0]), "+f"(acc[1][1]), "+f"(acc[1][2]),
        "+f"(acc[1][3]), "+f"(acc[2][0]), "+f"(acc[2][1]), "+f"(acc[2][2]), "+f"(acc[2][3]), "+f"(acc[3][0]), "+f"(acc[3][1]),
        "+f"(acc[3][2]), "+f"(acc[3][3]), "+f"(acc[4][0]), "+f"(acc[4][1]), "+f"(acc[4][2]), "+f"(acc[4][3]), "+f"(acc[5][0]),
        "+f"(acc[5][1]), "+f"(acc[5][2]), "+f"(acc[5][3]), "+f"(acc[6][0]), "+f"(acc[6][1]), "+f"(acc[6][2]), "+f"(acc[6][3]),
        "+f"(acc[7][0]), "+f"(acc[7][1]), "+f"(acc[7][2]), "+f"(acc[7][3]), "+f"(acc[8][0]), "+f"(acc[8][1]), "+f"(acc[8][2]),
        "+f"(acc[8][3]), "+f"(acc[9][0]), "+f"(acc[9][1]), "+f"(acc[9][2]), "+f"(acc[9][3]), "+f"(acc[10][0]), "+f"(acc[10][1]),
        "+f"(acc[10][2]), "+f"(acc[10][3]), "+f"(acc[11][0]), "+f"(acc[11][1]), "+f"(acc[11][2]), "+f"(acc[11][3]), "+f"(acc[12][0]),
        "+f"(acc[12][1]), "+f"(acc[12][2]), "+f"(acc[12][3]), "+f"(acc[13][0]), "+f"(acc[13][1]), "+f"(acc[13][2]), "+f"(acc[13][3]),
        "+f"(acc[14][0]), "+f"(acc[14][1]), "+f"(acc[14][2]), "+f"(acc[14][3]), "+f"(acc[15][0]), "+f"(acc[15][1]), "+f"(acc[15][2]),
        "+f"(acc[15][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
}

#endif

// Chunks of 64 dimensions, rounded up to an even count (the main loop alternates two operand sets).
int wgmma_chunks(int d_padded) { return (d_padded + 2 * kNoiseChunk - 1) / (2 * kNoiseChunk) * 2; }

// Operands of one 64-dimension chunk: four k16 steps.
using ChunkOperands = uint32_t[4][4];

__global__ void __launch_bounds__(kThreads, 1)
    route_kernel_wgmma(KernelArgs a, const __nv_bfloat16* gate_tiled, int chunks, int tiles_per_block) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16* stages = reinterpret_cast<__nv_bfloat16*>(smem);  // [kStages][kStageElems]
  __shared__ BlockHistogram hist;

  const int tid = threadIdx.x, group = tid / 128, warp = (tid / 32) % 4, lane = tid % 32, g = lane / 4, s = lane % 4;
  const int first_tile = blockIdx.x * tiles_per_block;
  const int tile_end = min(first_tile + tiles_per_block, (a.tokens + kTileTokens - 1) / kTileTokens);
  const int first_rank = first_tile * kTileTokens / a.tokens_per_rank;
  for (int i = tid; i < 2 * kMaxExperts; i += kThreads) (&hist[0][0])[i] = 0;

  // One commit group per chunk, empty past the last, so that the group count stays uniform.
  auto load_chunk = [&](int chunk) {
    if (chunk < chunks) {
      const __nv_bfloat16* src = gate_tiled + static_cast<long>(chunk) * kStageElems;
      __nv_bfloat16* dst = stages + (chunk % kStages) * kStageElems;
      for (int i = tid; i < kStageElems / 8; i += kThreads) cp_async16(dst + 8 * i, src + 8 * i);
    }
    cp_async_commit();
  };

  for (int tile = first_tile; tile < tile_end; ++tile) {
    const int slice_first = tile * kTileTokens + 64 * group + 16 * warp;  // this warp's 16 tokens
    const uint32_t row_g = static_cast<uint32_t>(slice_first + g), row_g8 = row_g + 8;
    auto draw = [&](int chunk, ChunkOperands& ops) {
      const Philox4 lo = token_draw(a.key, row_g, static_cast<uint32_t>(4 * chunk + s));
      const Philox4 hi = token_draw(a.key, row_g8, static_cast<uint32_t>(4 * chunk + s));
#pragma unroll
      for (int q = 0; q < 4; ++q) noise_operand(ops[q], lo.v[q], hi.v[q]);
    };
    int topic[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int t = slice_first + 8 * h + g;
      topic[h] = t < a.tokens ? token_topic(a.key, static_cast<uint32_t>(t), a.topic_cdf, a.topics) : 0;
    }
    float acc[kNTiles][4];
#pragma unroll
    for (int n = 0; n < kNTiles; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[n][i] = 0.0f;
    pin(acc);

    __syncthreads();  // every warp group is done with the previous tile's stages
#pragma unroll
    for (int c = 0; c < kStages - 2; ++c) load_chunk(c);
    ChunkOperands even, odd;
    draw(0, even);

    // Chunk c: its stage has landed once all but the kStages - 3 newest copy groups are done; the
    // barrier also proves that every warp group has finished chunk c - 2's products (waited for
    // in step c - 1), so chunk c + kStages - 2 may overwrite that stage.
    auto step = [&](int c, const ChunkOperands& ops, ChunkOperands& next) {
      cp_async_wait<kStages - 3>();
      fence_proxy_async();
      __syncthreads();
      load_chunk(c + kStages - 2);
      const __nv_bfloat16* stage = stages + (c % kStages) * kStageElems;
      wgmma_fence();
#pragma unroll
      for (int q = 0; q < 4; ++q) wgmma_m64n128k16(acc, ops[q], matrix_descriptor(stage + q * kStepElems));
      wgmma_commit();
      wgmma_wait<1>();    // chunk c - 1's products are done: `next` may be overwritten
      draw(c + 1, next);  // past the last chunk: drawn and unused, which keeps one basic block
    };
    for (int c = 0; c < chunks; c += 2) {  // chunks is even: the operand sets alternate
      step(c, even, odd);
      step(c + 1, odd, even);
    }
    wgmma_wait<0>();
    pin(acc);
#pragma unroll
    for (int h = 0; h < 2; ++h) count_top_k<kNTiles>(a, acc, h, slice_first + 8 * h + g, topic[h], s, first_rank, hist);
  }
  __syncthreads();
  flush_histogram(a, hist, first_rank, tid, kThreads);
#else
  __trap();  // only sm_90a code has wgmma; launch_wgmma() runs this kernel only there
#endif
}

}  // namespace

bool wgmma_available(int device) {
  int major = 0, minor = 0;
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "compute capability");
  check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), "compute capability");
  return major == 9 && minor == 0;
}

size_t wgmma_gate_elems(int d_padded) { return static_cast<size_t>(wgmma_chunks(d_padded)) * kStageElems; }

void launch_wgmma(const KernelArgs& a, __nv_bfloat16* gate_tiled) {
  const int chunks = wgmma_chunks(a.d_padded);
  const long elems = static_cast<long>(chunks) * kStageElems;
  tile_gate_kernel<<<static_cast<unsigned>((elems + 255) / 256), 256>>>(a.gate, gate_tiled, a.d_padded, chunks);
  const size_t smem = sizeof(__nv_bfloat16) * kStages * kStageElems;
  check(cudaFuncSetAttribute(route_kernel_wgmma, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
        "shared memory attribute");
  const Grid grid = persistent_grid(route_kernel_wgmma, kThreads, smem, (a.tokens + kTileTokens - 1) / kTileTokens);
  route_kernel_wgmma<<<grid.blocks, kThreads, smem>>>(a, gate_tiled, chunks, grid.tiles_per_block);
}

}  // namespace moesim::router::kernel
