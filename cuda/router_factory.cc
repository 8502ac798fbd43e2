#include <cstdio>

#include "cuda/router.h"

namespace moesim::router {

#if !defined(MOESIM_HAVE_CUDA)
std::unique_ptr<Router> make_cuda_router(CudaKernel) { return nullptr; }
#endif

std::unique_ptr<Router> make_router() {
  if (auto gpu = make_cuda_router()) return gpu;
  return make_cpu_router();
}

}  // namespace moesim::router
