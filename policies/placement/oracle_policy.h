// oracle: plans from the true loads of the coming steps, which the runner shows it
// (Observations::lookahead): it places as well as any forecast can, the upper bound, not something a
// real system can do. Without spare slots it packs, as predictive does; with them it fills every
// spare slot with replicas as replicated does (replication.h), so that it bounds the replicating
// policies too rather than paying for slots it leaves empty. As oracle_affinity it plans as
// affinity does, from the co-activation of the coming steps too (the bound of affinity).
#pragma once

#include <deque>
#include <optional>

#include "policies/placement/affinity.h"
#include "policies/placement/planning_policy.h"
#include "policies/placement/replication.h"

namespace moesim::policies {

class OraclePolicy final : public PlanningPolicy {
 public:
  OraclePolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params,
               std::optional<ReplicationShape> replication = std::nullopt, std::optional<AffinityShape> affinity = std::nullopt)
      : PlanningPolicy(shape, std::move(initial), params), replication_(replication), affinity_(affinity) {}
  std::string name() const override { return "oracle"; }
  Observations observations() const override { return {.coactivation = affinity_.has_value(), .lookahead = planning().horizon}; }
  void foresee(const StepLoads& coming) override;

 private:
  void learn(const StepLoads& finished, std::span<const float>) override;
  bool ready() const override { return !future_.empty(); }
  std::vector<double> expected(int step) override;
  Proposal propose(int layer, std::span<const double> loads, const LayerPlacement& current) override;
  // Adds (sign 1) or takes back (-1) a step's co-activation: coming_pairs_ holds the steps foreseen
  // and not yet finished, the coming horizon's, without keeping each step's.
  void count_pairs(std::span<const double> coactivation, double sign);

  std::optional<ReplicationShape> replication_;
  std::optional<AffinityShape> affinity_;
  std::deque<std::vector<float>> future_;  // proportions of steps future_first_ ...
  int future_first_ = 0;
  std::vector<double> coming_pairs_;
};

}  // namespace moesim::policies
