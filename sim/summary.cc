#include "sim/summary.h"

#include <algorithm>
#include <cmath>

#include "policies/placement/registry.h"
#include "sim/step/memory_model.h"

namespace moesim {

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::vector<PolicySummary> summarize(const scenarios::Scenario& s, const RunResult& run) {
  std::vector<PolicySummary> out;
  for (const auto& policy : run.policies) {
    PolicySummary sum;
    sum.label = policy.label;
    sum.forecast_error_pp = policy.forecast_error_pp;
    const double n = static_cast<double>(policy.steps.size());
    std::vector<double> ms;
    double seconds = 0, util = 0, util_min = 0, a2a = 0, dropped = 0, routed = 0, bubble = 0, exposed = 0;
    for (const auto& st : policy.steps) {
      ms.push_back(st.step_time / Milliseconds(1));
      seconds += st.step_time.seconds();
      double busy = 0, least = 1;
      for (Duration d : st.compute_busy) {
        busy += d / st.step_time;
        least = std::min(least, d / st.step_time);
      }
      util += busy / static_cast<double>(st.compute_busy.size());
      util_min += least;
      sum.imbalance += st.imbalance / n;
      a2a += st.all_to_all_time.seconds();
      bubble += st.bubble.seconds();
      exposed += st.exposed_comm.seconds();
      sum.inter_node_a2a_gb += st.a2a_inter_node.count() / 1e9 / n;
      sum.intra_node_a2a_gb += st.a2a_intra_node.count() / 1e9 / n;
      sum.migration_gb += st.migration_bytes.count() / 1e9 / n;
      sum.migration_ms += st.migration_time / Milliseconds(1) / n;
      dropped += static_cast<double>(st.dropped);
      routed += static_cast<double>(st.assignments);
    }
    sum.step_ms_mean = seconds * 1e3 / n;
    sum.step_ms_p50 = quantile(ms, 0.50);
    sum.step_ms_p99 = quantile(ms, 0.99);
    sum.tokens_per_second = static_cast<double>(s.training.tokens_per_step) * n / seconds;
    sum.gpu_utilization = util / n;
    sum.gpu_utilization_min = util_min / n;
    sum.all_to_all_share = a2a / seconds;
    sum.dropped_fraction = routed > 0 ? dropped / routed : 0;
    const double gpus = s.cluster.gpu_count();
    sum.tokens_per_gpu = sum.tokens_per_second / gpus;
    sum.model_tflops = sum.tokens_per_gpu * models::training_flops_per_token(s.model, s.training.seq_len).count() / 1e12;
    sum.mfu = sum.model_tflops * 1e12 / s.cluster.gpu.bf16_peak.per_second();
    sum.bubble_share = bubble / seconds;
    sum.exposed_comm_share = exposed / seconds;
    if (out.size() < s.policies.size()) {
      const auto& spec = s.policies[out.size()];
      sum.peak_memory_gb = gpu_memory(step_config(s, spec.migration, spec.spare_slots)).peak().total() / 1e9;
      const policies::PlacementEntry& entry = *policies::find_placement(spec.placement_name());
      if (entry.family) sum.family = entry.family(spec.spare_slots);
      sum.bound = entry.reads_future;
    }
    if (s.cost.gpu_hour > 0) sum.cost_per_mtok = s.cluster.gpu_count() * s.cost.gpu_hour / 3600 / sum.tokens_per_second * 1e6;
    out.push_back(sum);
  }
  const auto baseline = std::find_if(s.policies.begin(), s.policies.end(), [](const auto& p) { return p.placement_name() == "static"; });
  if (baseline != s.policies.end() && out.size() == s.policies.size()) {
    const double reference = out[static_cast<size_t>(baseline - s.policies.begin())].step_ms_mean;
    for (auto& sum : out) sum.speedup = sum.step_ms_mean > 0 ? reference / sum.step_ms_mean : 0;
  }
  return out;
}

}  // namespace moesim
