#include "models/gating/routing_matrix.h"

#include <algorithm>
#include <stdexcept>

#include "sim/base/avx2_clones.h"

namespace moesim::gating {

// A step's counts are read once or twice a layer (half a million at DeepSeek-V3's size): in
// vectors of four 64-bit sums where the CPU has AVX2, whose widening loads SSE2 lacks.
MOESIM_AVX2_CLONES
int64_t count_total(std::span<const int32_t> counts) {
  int64_t total = 0;
  for (const int32_t c : counts) total += c;
  return total;
}

std::vector<int64_t> RoutingMatrix::expert_loads(int layer) const {
  if (!known_loads_.empty()) {
    const auto first = known_loads_.begin() + static_cast<ptrdiff_t>(layer) * experts_;
    return {first, first + experts_};
  }
  std::vector<int64_t> loads(experts_, 0);
  for (int r = 0; r < ranks_; ++r) {
    auto x = row(layer, r);
    for (int e = 0; e < experts_; ++e) loads[e] += x[e];
  }
  return loads;
}

void RoutingMatrix::set_expert_loads(std::span<const int64_t> loads) {
  if (loads.size() != static_cast<size_t>(layers_) * experts_)
    throw std::logic_error("set_expert_loads: not one load per layer and expert");
  known_loads_.assign(loads.begin(), loads.end());
}

}  // namespace moesim::gating
