#include "results/table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace moesim::results {

std::string format(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string tokens_rate(double v) {
  if (v >= 1e6) return format("%.2f M", v / 1e6);
  if (v >= 1e3) return format("%.1f k", v / 1e3);
  return format("%.0f", v);
}

std::string aligned_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows, size_t left,
                          size_t right_end, const std::vector<size_t>& bold) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      if (c > 0) s += "  ";
      s += c < left || c >= right_end ? row[c] + pad : pad + row[c];
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  size_t total = 0;
  for (size_t w : width) total += w + 2;
  std::string out = line(header) + std::string(total - 2, '-') + "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string text = line(rows[r]);
    out += std::find(bold.begin(), bold.end(), r) == bold.end() ? text : "\033[1m" + text.substr(0, text.size() - 1) + "\033[0m\n";
  }
  return out;
}

namespace {

// Which policies each oracle bounds (those that plan as it does, from forecasts where it reads the
// future), and which none of the run's oracles bound. Nothing without an oracle.
std::string bounds_note(const std::vector<PolicySummary>& rows) {
  if (std::none_of(rows.begin(), rows.end(), [](const PolicySummary& r) { return r.bound; })) return "";
  std::string out;
  std::vector<std::string> unbounded;
  for (const auto& r : rows) {
    if (r.bound || r.family.empty()) continue;
    const bool has_oracle = std::any_of(rows.begin(), rows.end(), [&](const PolicySummary& o) { return o.bound && o.family == r.family; });
    if (!has_oracle) unbounded.push_back(r.label);
  }
  for (const auto& o : rows) {
    if (!o.bound) continue;
    std::string bounded;
    for (const auto& r : rows) {
      if (!r.bound && r.family == o.family) bounded += (bounded.empty() ? "" : ", ") + r.label;
    }
    out += o.label +
           (bounded.empty() ? ": plans " + o.family + " from the true coming loads; no other policy here does"
                            : ": upper bound of " + bounded + " (" + o.family + ", planned from the true coming loads)") +
           "\n";
  }
  if (!unbounded.empty()) {
    std::string list;
    for (const auto& label : unbounded) list += (list.empty() ? "" : ", ") + label;
    out += "no oracle here bounds " + list + "\n";
  }
  return out;
}

}  // namespace

std::string summary_table(const std::vector<PolicySummary>& rows, bool bold) {
  std::vector<std::string> header = {"  policy",    "step mean", "vs static", "p50",          "p99",       "tokens/s",     "tok/s/GPU",
                                     "TFLOP/s/GPU", "MFU",       "bubble",    "exposed comm", "peak mem",  "GPU util",     "min util",
                                     "imbalance",   "a2a share", "a2a intra", "a2a inter",    "migration", "forecast err", "dropped"};
  // The price column only when the scenario gives one (cost.gpu_hour).
  const bool priced = std::any_of(rows.begin(), rows.end(), [](const PolicySummary& r) { return r.cost_per_mtok.has_value(); });
  if (priced) header.push_back("cost/M tok");
  size_t best = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].step_ms_mean < rows[best].step_ms_mean) best = i;
  }
  std::vector<std::vector<std::string>> cells;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    cells.push_back({(rows.size() > 1 && i == best ? "* " : "  ") + r.label,
                     format("%.2f ms", r.step_ms_mean),
                     r.speedup > 0 ? format("%.3fx", r.speedup) : "-",
                     format("%.2f ms", r.step_ms_p50),
                     format("%.2f ms", r.step_ms_p99),
                     tokens_rate(r.tokens_per_second),
                     format("%.0f", r.tokens_per_gpu),
                     format("%.1f", r.model_tflops),
                     format("%.1f %%", 100 * r.mfu),
                     format("%.1f %%", 100 * r.bubble_share),
                     format("%.1f %%", 100 * r.exposed_comm_share),
                     format("%.1f GB", r.peak_memory_gb),
                     format("%.1f %%", 100 * r.gpu_utilization),
                     format("%.1f %%", 100 * r.gpu_utilization_min),
                     format("%.2f", r.imbalance),
                     format("%.1f %%", 100 * r.all_to_all_share),
                     format("%.2f GB/step", r.intra_node_a2a_gb),
                     format("%.2f GB/step", r.inter_node_a2a_gb),
                     format("%.3f ms/step", r.migration_ms),
                     r.forecast_error_pp ? format("%.3f pp", *r.forecast_error_pp) : "-",
                     format("%.2f %%", 100 * r.dropped_fraction)});
    if (priced) cells.back().push_back(r.cost_per_mtok ? format("%.4f", *r.cost_per_mtok) : "-");
  }
  std::string out = aligned_table(header, cells, 1, SIZE_MAX, bold && rows.size() > 1 ? std::vector<size_t>{best} : std::vector<size_t>{});
  if (rows.size() > 1) out += "* fastest mean step time\n";
  return out + bounds_note(rows);
}

std::string sweep_table(const SweepTable& t, bool bold, size_t max_rows) {
  std::vector<std::string> header = {"point"};
  header.insert(header.end(), t.axes.begin(), t.axes.end());
  for (const char* h : {"  policy", "step mean", "vs static", "tokens/s", "GPU util", "imbalance", "a2a share", "a2a inter"}) {
    header.push_back(h);
  }
  const bool priced = std::any_of(t.points.begin(), t.points.end(), [](const SweepPointSummary& p) {
    return std::any_of(p.policies.begin(), p.policies.end(), [](const PolicySummary& r) { return r.cost_per_mtok.has_value(); });
  });
  if (priced) header.push_back("cost/M tok");
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> fastest;
  size_t total = 0;
  for (const auto& p : t.points) {
    size_t best = 0;
    for (size_t i = 0; i < p.policies.size(); ++i) {
      if (p.policies[i].step_ms_mean < p.policies[best].step_ms_mean) best = i;
    }
    for (size_t i = 0; i < p.policies.size(); ++i, ++total) {
      if (cells.size() == max_rows) continue;
      const auto& r = p.policies[i];
      std::vector<std::string> row = {std::to_string(p.point)};
      row.insert(row.end(), p.values.begin(), p.values.end());
      for (std::string cell : {(p.policies.size() > 1 && i == best ? "* " : "  ") + r.label, format("%.2f ms", r.step_ms_mean),
                               r.speedup > 0 ? format("%.3fx", r.speedup) : std::string("-"), tokens_rate(r.tokens_per_second),
                               format("%.1f %%", 100 * r.gpu_utilization), format("%.2f", r.imbalance),
                               format("%.1f %%", 100 * r.all_to_all_share), format("%.2f GB/step", r.inter_node_a2a_gb)}) {
        row.push_back(std::move(cell));
      }
      if (priced) row.push_back(r.cost_per_mtok ? format("%.4f", *r.cost_per_mtok) : "-");
      if (bold && p.policies.size() > 1 && i == best) fastest.push_back(cells.size());
      cells.push_back(std::move(row));
    }
  }
  std::string out = aligned_table(header, cells, 2 + t.axes.size(), SIZE_MAX, fastest);
  if (const size_t more = total - cells.size(); more > 0)
    out += "... " + std::to_string(more) + (more == 1 ? " more row" : " more rows") + " in sweep.csv\n";
  out += "* the point's fastest mean step time\n";
  return out;
}

namespace {

std::string value(MetricUnit unit, double v) {
  switch (unit) {
    case MetricUnit::kMilliseconds: return format("%.2f ms", v);
    case MetricUnit::kTokensPerSecond: return tokens_rate(v);
    case MetricUnit::kFraction: return format("%.1f %%", 100 * v);
    case MetricUnit::kRatio: return format("%.3f", v);
    case MetricUnit::kGigabytesPerStep: return format("%.2f GB/step", v);
    case MetricUnit::kGigabytes: return format("%.2f GB", v);
    case MetricUnit::kMoney: return format("%.4f", v);
  }
  return format("%g", v);
}

// Differences of fractions in percentage points; the others in the metric's unit, signed.
std::string difference(MetricUnit unit, double d) {
  std::string out = d > 0 ? "+" : d < 0 ? "-" : "";
  // Appended, not `sign + string`: GCC 12 warns (-Wrestrict) on that form's inlined insert at the front.
  out += unit == MetricUnit::kFraction ? format("%.1f pp", 100 * std::abs(d)) : value(unit, std::abs(d));
  return out;
}

}  // namespace

std::string compare_table(const std::vector<PolicyComparison>& policies) {
  std::string out;
  for (const auto& p : policies) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : p.metrics) {
      std::string verdict = "- (one seed)";
      if (m.noise) {
        const bool better = m.lower_is_better ? m.delta < 0 : m.delta > 0;
        verdict = m.significant() ? (better ? "yes, better" : "yes, worse") : "no";
        verdict += " (noise " + (m.unit == MetricUnit::kFraction ? format("%.1f pp", 100 * *m.noise) : value(m.unit, *m.noise)) + ")";
      }
      rows.push_back({"  " + m.metric, value(m.unit, m.base.mean), value(m.unit, m.variant.mean), difference(m.unit, m.delta),
                      m.base.mean != 0 ? format("%+.1f %%", 100 * m.relative) : "-", verdict});
    }
    out += p.label + "\n" + aligned_table({"  metric", "base", "variant", "delta", "relative", "beyond seed noise"}, rows, 1, 5);
    out += "\n";
  }
  return out;
}

}  // namespace moesim::results
