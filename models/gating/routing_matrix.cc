#include "models/gating/routing_matrix.h"

namespace moesim::gating {

// A step's counts are read once or twice a layer (half a million at DeepSeek-V3's size): in
// vectors of four 64-bit sums where the CPU has AVX2, whose widening loads SSE2 lacks.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
int64_t
count_total(std::span<const int32_t> counts) {
  int64_t total = 0;
  for (const int32_t c : counts) total += c;
  return total;
}

}  // namespace moesim::gating
