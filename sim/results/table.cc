#include "sim/results/table.h"

#include <algorithm>
#include <cstdio>

namespace moesim::results {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string tokens_rate(double v) {
  if (v >= 1e6) return fmt("%.2f M", v / 1e6);
  if (v >= 1e3) return fmt("%.1f k", v / 1e3);
  return fmt("%.0f", v);
}

}  // namespace

std::string summary_table(const std::vector<PolicySummary>& rows) {
  std::vector<std::string> header = {"policy",    "step mean", "vs static", "p50",       "p99",
                                           "tokens/s",  "GPU util",  "min util",  "imbalance", "a2a share",
                                           "a2a intra", "a2a inter", "migration", "forecast err", "dropped"};
  // The price column only when the scenario gives one (cost.gpu_hour).
  const bool priced = std::any_of(rows.begin(), rows.end(), [](const PolicySummary& r) { return r.cost_per_mtok.has_value(); });
  if (priced) header.push_back("cost/M tok");
  std::vector<std::vector<std::string>> cells;
  size_t best = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].step_ms_mean < rows[best].step_ms_mean) best = i;
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    cells.push_back({(rows.size() > 1 && i == best ? "* " : "  ") + r.label, fmt("%.2f ms", r.step_ms_mean),
                     r.speedup > 0 ? fmt("%.3fx", r.speedup) : "-", fmt("%.2f ms", r.step_ms_p50), fmt("%.2f ms", r.step_ms_p99), tokens_rate(r.tokens_per_second),
                     fmt("%.1f %%", 100 * r.gpu_utilization), fmt("%.1f %%", 100 * r.gpu_utilization_min), fmt("%.2f", r.imbalance),
                     fmt("%.1f %%", 100 * r.all_to_all_share), fmt("%.2f GB/step", r.intra_node_a2a_gb), fmt("%.2f GB/step", r.inter_node_a2a_gb),
                     fmt("%.3f ms/step", r.migration_ms),
                     r.forecast_error_pp ? fmt("%.3f pp", *r.forecast_error_pp) : "-", fmt("%.2f %%", 100 * r.dropped_fraction)});
    if (priced) cells.back().push_back(r.cost_per_mtok ? fmt("%.4f", *r.cost_per_mtok) : "-");
  }
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size() + (c == 0 ? 2 : 0);
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      s += c == 0 ? row[c] + pad : "  " + pad + row[c];  // first column left, numbers right
    }
    return s + "\n";
  };
  std::vector<std::string> head = header;
  head[0] = "  " + head[0];
  std::string out = line(head);
  size_t total = 0;
  for (size_t w : width) total += w + 2;
  out += std::string(total - 2, '-') + "\n";
  for (const auto& row : cells) out += line(row);
  if (rows.size() > 1) out += "* fastest mean step time\n";
  return out;
}

}  // namespace moesim::results
