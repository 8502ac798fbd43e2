#include "models/gating/trace_proportions.h"

#include <numeric>
#include <string>

namespace moesim::gating {

TraceProportions load_proportions(const std::string& path) {
  const TraceReader reader(path);
  TraceProportions result{reader.info(), {}};
  const auto& info = result.info;
  auto& out = result.steps;
  out.reserve(info.steps);
  for (int s = 0; s < info.steps; ++s) {
    const auto counts = reader.read_expert_counts(s);
    auto& row = out.emplace_back(counts.size());
    for (int l = 0; l < info.moe_layers; ++l) {
      const auto first = counts.begin() + static_cast<std::ptrdiff_t>(l) * info.experts;
      const double total = static_cast<double>(std::accumulate(first, first + info.experts, int64_t{0}));
      if (total <= 0) {
        throw TraceError(path, "/expert_counts", "MoE layer " + std::to_string(l) + " has no tokens at step " + std::to_string(s));
      }
      for (int e = 0; e < info.experts; ++e)
        row[static_cast<size_t>(l) * info.experts + e] = static_cast<float>(static_cast<double>(first[e]) / total);
    }
  }
  return result;
}

}  // namespace moesim::gating
