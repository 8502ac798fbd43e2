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

void expand_to_training_steps(TraceProportions& trace, Between between) {
  const int stride = trace.info.stride, records = static_cast<int>(trace.steps.size());
  if (stride == 1 || records == 0) return;
  std::vector<std::vector<float>> steps;
  const int count = (records - 1) * stride + 1;
  steps.reserve(static_cast<size_t>(count));
  for (int t = 0; t < count; ++t) {
    const RecordPosition p = record_at(t, stride, records, between);
    std::vector<float> row = trace.steps[static_cast<size_t>(p.before)];
    if (p.after != p.before) {
      const auto& next = trace.steps[static_cast<size_t>(p.after)];
      for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<float>((1 - p.weight) * row[i] + p.weight * next[i]);
    }
    steps.push_back(std::move(row));
  }
  trace.steps = std::move(steps);
}

}  // namespace moesim::gating
