// The learned-gate generator can produce the expert-load skew of real MoE models: the per-expert
// counts measured by the OLMoE project (../shared/traces/olmoe-mixtral-routing, read in place),
// for Mixtral-8x7B (balanced, max/mean 1.08-1.33) and OLMoE-1B-7B (skewed, 2.5-7.8). The chosen
// reference is layer 0 on c4 (general web text, closest to a training mix) for both; the settings
// that reproduce each are documented in models/gating/README.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "models/gating/learned_source.h"

namespace moesim::gating {
namespace {

const std::string kSummary = std::string(MOESIM_SOURCE_DIR) + "/../shared/traces/olmoe-mixtral-routing/expert_counts_summary.csv";

// max_over_mean of (model, expert_counts, domain, layer) in the summary; throws if missing.
double measured_max_over_mean(const std::string& model, const std::string& domain, int layer) {
  std::ifstream in(kSummary);
  std::string line;
  std::getline(in, line);  // model,kind,domain,layer,num_experts,total_assignments,max,min,max_over_mean,min_over_mean
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() >= 9 && f[0] == model && f[1] == "expert_counts" && f[2] == domain && std::stoi(f[3]) == layer) return std::stod(f[8]);
  }
  throw std::runtime_error("no row for " + model + " " + domain + " layer " + std::to_string(layer));
}

// Mean over the last 100 of 1500 steps of the generator's max/mean expert load.
double generated_max_over_mean(int experts, int top_k, double aux, double topic_skew) {
  LearnedSourceParams p;
  p.shape.moe_layers = 1;
  p.shape.ranks = 8;
  p.shape.experts = experts;
  p.shape.top_k = top_k;
  p.shape.tokens_per_rank = 4096;
  p.seed = 11;
  p.decay_steps = 1500;
  p.aux = aux;
  p.topic_skew = topic_skew;
  LearnedSource source(p, router::make_cpu_router());
  RoutingMatrix m(1, 8, experts);
  double sum = 0;
  for (int step = 0; step < 1500; ++step) {
    source.next(step, m);
    if (step < 1400) continue;
    const auto loads = m.expert_loads(0);
    const double mean = static_cast<double>(std::accumulate(loads.begin(), loads.end(), int64_t{0})) / experts;
    sum += static_cast<double>(*std::max_element(loads.begin(), loads.end())) / mean / 100;
  }
  return sum;
}

class RealSkew : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kSummary)) GTEST_SKIP() << "../shared/traces is absent: real-skew comparison not run (" << kSummary << ")";
  }
};

TEST_F(RealSkew, MixtralLikeBalancedRegime) {
  const double real = measured_max_over_mean("mistral", "c4", 0);
  const double ours = generated_max_over_mean(8, 2, /*aux=*/2.0, /*topic_skew=*/0.25);
  std::printf("[ info ] Mixtral-8x7B c4 layer 0 max/mean: measured %.3f, generator %.3f\n", real, ours);
  EXPECT_NEAR(ours / real, 1.0, 0.15);
}

TEST_F(RealSkew, OlmoeLikeSkewedRegime) {
  const double real = measured_max_over_mean("olmoe", "c4", 0);
  const double ours = generated_max_over_mean(64, 8, /*aux=*/0.005, /*topic_skew=*/1.0);
  std::printf("[ info ] OLMoE-1B-7B c4 layer 0 max/mean: measured %.3f, generator %.3f\n", real, ours);
  EXPECT_NEAR(ours / real, 1.0, 0.15);
}

}  // namespace
}  // namespace moesim::gating
