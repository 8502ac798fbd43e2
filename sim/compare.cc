#include "sim/compare.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace moesim {
namespace {

struct Metric {
  const char* name;
  MetricUnit unit;
  bool lower_is_better;
  std::function<std::optional<double>(const PolicySummary&)> get;
  // Left out where it is 1 on every run of both sides: the static baseline's speedup over itself.
  bool omit_when_one = false;
};

const std::vector<Metric>& metrics() {
  static const std::vector<Metric> all = {
      {"step time", MetricUnit::kMilliseconds, true, [](const PolicySummary& s) { return s.step_ms_mean; }},
      {"step time p99", MetricUnit::kMilliseconds, true, [](const PolicySummary& s) { return s.step_ms_p99; }},
      {"speedup vs static", MetricUnit::kRatio, false,
       [](const PolicySummary& s) -> std::optional<double> {
         if (s.speedup > 0) return s.speedup;
         return std::nullopt;
       },
       true},
      {"tokens/s", MetricUnit::kTokensPerSecond, false, [](const PolicySummary& s) { return s.tokens_per_second; }},
      {"tokens/s per GPU", MetricUnit::kTokensPerSecond, false, [](const PolicySummary& s) { return s.tokens_per_gpu; }},
      {"MFU", MetricUnit::kFraction, false, [](const PolicySummary& s) { return s.mfu; }},
      {"bubble (both idle)", MetricUnit::kFraction, true, [](const PolicySummary& s) { return s.bubble_share; }},
      {"exposed communication", MetricUnit::kFraction, true, [](const PolicySummary& s) { return s.exposed_comm_share; }},
      {"peak memory per GPU", MetricUnit::kGigabytes, true, [](const PolicySummary& s) { return s.peak_memory_gb; }},
      {"GPU utilization", MetricUnit::kFraction, false, [](const PolicySummary& s) { return s.gpu_utilization; }},
      {"expert imbalance", MetricUnit::kRatio, true, [](const PolicySummary& s) { return s.imbalance; }},
      {"all-to-all share", MetricUnit::kFraction, true, [](const PolicySummary& s) { return s.all_to_all_share; }},
      {"all-to-all inter-node", MetricUnit::kGigabytesPerStep, true, [](const PolicySummary& s) { return s.inter_node_a2a_gb; }},
      {"all-to-all intra-node", MetricUnit::kGigabytesPerStep, true, [](const PolicySummary& s) { return s.intra_node_a2a_gb; }},
      {"migration", MetricUnit::kMilliseconds, true, [](const PolicySummary& s) { return s.migration_ms; }},
      {"cost per M tokens", MetricUnit::kMoney, true, [](const PolicySummary& s) { return s.cost_per_mtok; }},
  };
  return all;
}

const PolicySummary* find(const std::vector<PolicySummary>& run, const std::string& label) {
  const auto it = std::find_if(run.begin(), run.end(), [&](const PolicySummary& s) { return s.label == label; });
  return it == run.end() ? nullptr : &*it;
}

}  // namespace

SeedStats seed_stats(const std::vector<double>& values) {
  SeedStats s;
  s.seeds = static_cast<int>(values.size());
  if (values.empty()) return s;
  for (double v : values) s.mean += v / static_cast<double>(values.size());
  if (values.size() < 2) return s;
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(squares / static_cast<double>(values.size() - 1));
  return s;
}

std::vector<PolicyComparison> compare_runs(const std::vector<std::vector<PolicySummary>>& base,
                                           const std::vector<std::vector<PolicySummary>>& variant, std::vector<std::string>* unmatched) {
  std::vector<PolicyComparison> out;
  if (base.empty() || variant.empty()) return out;
  for (const auto& policy : base.front()) {
    if (!find(variant.front(), policy.label)) {
      if (unmatched) unmatched->push_back(policy.label + " (base only)");
      continue;
    }
    PolicyComparison c{policy.label, {}};
    for (const Metric& m : metrics()) {
      std::vector<double> b, v;
      for (const auto& run : base) {
        if (const PolicySummary* s = find(run, policy.label); s && m.get(*s)) b.push_back(*m.get(*s));
      }
      for (const auto& run : variant) {
        if (const PolicySummary* s = find(run, policy.label); s && m.get(*s)) v.push_back(*m.get(*s));
      }
      if (b.empty() || v.empty()) continue;  // e.g. no GPU price on one side
      const auto one = [](double x) { return x == 1.0; };
      if (m.omit_when_one && std::all_of(b.begin(), b.end(), one) && std::all_of(v.begin(), v.end(), one)) continue;
      MetricComparison mc{m.name, m.unit, m.lower_is_better, seed_stats(b), seed_stats(v), 0, 0, std::nullopt};
      mc.delta = mc.variant.mean - mc.base.mean;
      mc.relative = mc.base.mean != 0 ? mc.delta / mc.base.mean : 0;
      if (mc.base.seeds >= 2 && mc.variant.seeds >= 2) {
        mc.noise =
            2 * std::sqrt(mc.base.stddev * mc.base.stddev / mc.base.seeds + mc.variant.stddev * mc.variant.stddev / mc.variant.seeds);
      }
      c.metrics.push_back(mc);
    }
    out.push_back(std::move(c));
  }
  if (unmatched) {
    for (const auto& policy : variant.front()) {
      if (!find(base.front(), policy.label)) unmatched->push_back(policy.label + " (variant only)");
    }
  }
  return out;
}

}  // namespace moesim
