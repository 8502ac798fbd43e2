#include <cstdio>

#include "cuda/router.h"

namespace moesim::router {

#if !defined(MOESIM_HAVE_CUDA)
std::unique_ptr<Router> make_cuda_router(CudaKernel) { return nullptr; }
#endif

std::unique_ptr<Router> make_router(int expert_groups) {
  // Hopper's wgmma kernel where the GPU has it (it routes 65 to 128 experts, mma.sync the rest).
  auto gpu = make_cuda_router(CudaKernel::wgmma);
  if (!gpu) gpu = make_cuda_router(CudaKernel::mma_sync);
  if (gpu && expert_groups <= gpu->max_expert_groups()) return gpu;
  return make_cpu_router();
}

}  // namespace moesim::router
