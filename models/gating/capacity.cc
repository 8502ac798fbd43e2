#include "models/gating/capacity.h"

#include <cmath>

namespace moesim::gating {

int64_t expert_capacity(double capacity_factor, int64_t tokens_per_rank, int top_k, int experts) {
  return static_cast<int64_t>(std::ceil(capacity_factor * static_cast<double>(tokens_per_rank) * top_k / experts));
}

int64_t apply_capacity(RoutingMatrix& routing, int64_t capacity) {
  int64_t dropped_total = 0;
  for (int l = 0; l < routing.layers(); ++l) {
    for (int r = 0; r < routing.ranks(); ++r) {
      auto row = routing.row(l, r);
      auto dropped = routing.dropped_row(l, r);
      for (int e = 0; e < routing.experts(); ++e) {
        if (row[e] > capacity) {
          const auto over = static_cast<int32_t>(row[e] - capacity);
          dropped[e] += over;
          row[e] -= over;
          dropped_total += over;
        }
      }
    }
  }
  return dropped_total;
}

}  // namespace moesim::gating
