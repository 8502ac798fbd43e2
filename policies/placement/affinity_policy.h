// affinity: experts that tokens choose together share a GPU (or a node), within a bound on the
// busiest GPU's forecast load: each layer is planned by affinity_pack (affinity.h) from the
// forecast and the co-activation observed since the previous plan. A plan is adopted when it keeps
// at least min_gain of the layer's co-activation more on one GPU, or lowers the busiest load as
// predictive's plans must.
#pragma once

#include "policies/placement/affinity.h"
#include "policies/placement/planning_policy.h"
#include "policies/placement/registry.h"

namespace moesim::policies {

struct AffinityParams {
  double max_imbalance = 1.1;
  PlanningParams planning;
  void describe(params::Visitor& v);
};

// Affinity's plan for `layer` from its expected loads and `pairs`, the co-activation of every
// layer (empty: none seen), adopted as AffinityPolicy adopts it.
PlanningPolicy::Proposal affinity_proposal(std::span<const double> pairs, int layer, std::span<const double> loads,
                                           const LayerPlacement& current, const AffinityShape& affinity, double min_gain);

// The affinity check (also the affinity oracle's): several experts per token, sent once per GPU.
std::optional<PlacementProblem> check_affinity_facts(const std::string& name, const PlacementFacts& facts);

class AffinityPolicy final : public ForecastingPolicy {
 public:
  AffinityPolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params, std::unique_ptr<Predictor> predictor,
                 const AffinityShape& affinity);
  Observations observations() const override { return {.coactivation = true}; }

 private:
  std::string kind() const override { return "affinity"; }
  void learn(const StepLoads& finished, std::span<const float> proportions) override;
  void begin_plan() override;
  void end_plan() override;
  Proposal propose(int layer, std::span<const double> loads, const LayerPlacement& current) override;

  AffinityShape affinity_;
  std::vector<double> pair_sum_;  // co-activation summed over the steps since the last plan
  int pair_steps_ = 0;
};

}  // namespace moesim::policies
