// Per-policy summary statistics of a run: what the table and summary.csv show.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "sim/runner.h"

namespace moesim {

struct PolicySummary {
  std::string label;
  // The kind of plan it makes (PlacementEntry::family; empty for static), and whether it is an
  // oracle, the upper bound of the policies of that kind.
  std::string family;
  bool bound = false;
  double step_ms_mean = 0, step_ms_p50 = 0, step_ms_p99 = 0;
  double tokens_per_second = 0;
  double gpu_utilization = 0;               // mean over steps and GPUs of compute-busy / step time
  double gpu_utilization_min = 0;           // mean over steps of the least busy GPU's compute-busy / step time
  double imbalance = 0;                     // mean max/mean expert tokens per GPU
  double all_to_all_share = 0;              // all-to-all time / step time
  double inter_node_a2a_gb = 0;             // per step
  double intra_node_a2a_gb = 0;             // per step
  double dropped_fraction = 0;              // dropped / routed token assignments
  double speedup = 0;                       // the first static policy's mean step time over this one's; 0 without one
  double migration_gb = 0;                  // per step
  double migration_ms = 0;                  // per step
  std::optional<double> forecast_error_pp;  // of the forecasts the policy planned from
  std::optional<double> cost_per_mtok;      // GPU rent per million tokens, when the scenario gives cost.gpu_hour
  double tokens_per_gpu = 0;                // tokens/s per GPU
  double model_tflops = 0;                  // per GPU: training FLOPs of the model (models::training_flops_per_token) per second
  double mfu = 0;                           // model_tflops over the GPU's dense BF16 peak
  double bubble_share = 0;                  // per GPU, mean: time both streams idle (pipeline bubble) / step time
  double exposed_comm_share = 0;            // per GPU, mean: communication not hidden behind compute / step time
  double peak_memory_gb = 0;                // the fullest GPU's memory at its peak (sim/step/memory_model.h)
};

std::vector<PolicySummary> summarize(const scenarios::Scenario& scenario, const RunResult& run);

// The value at quantile q (0..1) of `values` by nearest rank; values are copied and sorted.
double quantile(std::vector<double> values, double q);

}  // namespace moesim
