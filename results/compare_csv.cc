#include "results/compare_csv.h"

#include <cstdio>

#include "results/summary_csv.h"

namespace moesim::results {
namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

std::string compare_csv(const std::vector<PolicyComparison>& policies) {
  std::string out = "policy,metric,seeds,base_mean,base_sd,variant_mean,variant_sd,delta,relative,noise,beyond_noise\n";
  for (const auto& p : policies) {
    for (const auto& m : p.metrics) {
      out += csv_field(p.label) + "," + csv_field(m.metric) + "," + std::to_string(m.base.seeds) + "," + num(m.base.mean) + "," +
             num(m.base.stddev) + "," + num(m.variant.mean) + "," + num(m.variant.stddev) + "," + num(m.delta) + "," + num(m.relative) +
             "," + (m.noise ? num(*m.noise) : std::string()) + "," + (m.noise ? (m.significant() ? "yes" : "no") : std::string()) + "\n";
    }
  }
  return out;
}

}  // namespace moesim::results
