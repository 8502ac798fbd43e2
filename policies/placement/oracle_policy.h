// oracle: plans from the true loads of the coming steps, which the runner shows it
// (Observations::lookahead): it places as well as any forecast can, the upper bound, not something a
// real system can do. Without spare slots it packs, as predictive does; with them it fills every
// spare slot with replicas as replicated does (replication.h), so that it bounds the replicating
// policies too rather than paying for slots it leaves empty.
#pragma once

#include <deque>
#include <optional>

#include "policies/placement/planning_policy.h"
#include "policies/placement/replication.h"

namespace moesim::policies {

class OraclePolicy final : public PlanningPolicy {
 public:
  OraclePolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params,
               std::optional<ReplicationShape> replication = std::nullopt)
      : PlanningPolicy(shape, std::move(initial), params), replication_(replication) {}
  std::string name() const override { return "oracle"; }
  Observations observations() const override { return {.lookahead = planning().horizon}; }
  void foresee(const StepLoads& coming) override;

 private:
  void learn(const StepLoads&, std::span<const float>) override {}
  bool ready() const override { return !future_.empty(); }
  std::vector<double> expected(int step) override;
  Proposal propose(int, std::span<const double> loads, const LayerPlacement& current) override {
    return {replication_ ? replicate_layer(loads, *replication_) : packed_layer(loads, current, shape())};
  }

  std::optional<ReplicationShape> replication_;
  std::deque<std::vector<float>> future_;  // proportions of steps future_first_ ...
  int future_first_ = 0;
};

}  // namespace moesim::policies
