// oracle: packs like predictive, from the true loads of the coming steps, which the runner shows
// it (Observations::lookahead). It places as well as any forecast can: the upper bound, not
// something a real system can do.
#pragma once

#include <deque>

#include "policies/placement/planning_policy.h"

namespace moesim::policies {

class OraclePolicy final : public PlanningPolicy {
 public:
  using PlanningPolicy::PlanningPolicy;
  std::string name() const override { return "oracle"; }
  Observations observations() const override { return {.lookahead = planning().horizon}; }
  void foresee(const StepLoads& coming) override;

 private:
  void learn(const StepLoads&, std::span<const float>) override {}
  bool ready() const override { return !future_.empty(); }
  std::vector<double> expected(int step) override;
  Proposal propose(int, std::span<const double> loads, const LayerPlacement& current) override {
    return {packed_layer(loads, current, shape())};
  }

  std::deque<std::vector<float>> future_;  // proportions of steps future_first_ ...
  int future_first_ = 0;
};

}  // namespace moesim::policies
