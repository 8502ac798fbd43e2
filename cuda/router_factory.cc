#include <cstdio>

#include "cuda/router.h"

namespace moesim::router {

#if !defined(MOESIM_HAVE_CUDA)
std::unique_ptr<Router> make_cuda_router(CudaKernel) { return nullptr; }
#endif

std::unique_ptr<Router> make_router(bool grouped) {
  if (auto gpu = make_cuda_router(); gpu && (!grouped || gpu->routes_groups())) return gpu;
  return make_cpu_router();
}

}  // namespace moesim::router
