#include "sim/results/summary_csv.h"

#include <cstdio>

namespace moesim::results {
namespace {

// Fixed precision so that the same run always prints the same bytes.
std::string num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string quoted(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string summary_csv(const std::vector<PolicySummary>& rows) {
  std::string out =
      "policy,step_ms_mean,step_ms_p50,step_ms_p99,tokens_per_s,gpu_util_mean,gpu_util_min,imbalance_max_mean,"
      "a2a_share,a2a_inter_node_gb_per_step,a2a_intra_node_gb_per_step,dropped_fraction,speedup_vs_static,"
      "migration_gb_per_step,migration_ms_per_step,forecast_error_pp\n";
  for (const auto& r : rows) {
    out += quoted(r.label) + "," + num(r.step_ms_mean, 4) + "," + num(r.step_ms_p50, 4) + "," + num(r.step_ms_p99, 4) +
           "," + num(r.tokens_per_second, 1) + "," + num(r.gpu_utilization, 6) + "," + num(r.gpu_utilization_min, 6) + "," + num(r.imbalance, 6) + "," +
           num(r.all_to_all_share, 6) + "," + num(r.inter_node_a2a_gb, 6) + "," + num(r.intra_node_a2a_gb, 6) + "," +
           num(r.dropped_fraction, 6) + "," + num(r.speedup, 6) + "," + num(r.migration_gb, 6) + "," + num(r.migration_ms, 6) + "," +
           (r.forecast_error_pp ? num(*r.forecast_error_pp, 6) : std::string()) + "\n";
  }
  return out;
}

}  // namespace moesim::results
