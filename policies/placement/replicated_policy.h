// replicated: adds replicas of hot experts in spare expert slots, each layer planned as DeepSeek's
// EPLB plans it (replication.h), from the forecast. phase_aware: what the prediction paper
// proposes: a layer still in its transient phase (online_phase.h) reserves headroom, its replicas
// planned from each expert's mean load plus two standard deviations over the phase window, so
// volatile experts get them; a stable layer is planned from the forecast.
#pragma once

#include <optional>

#include "policies/placement/planning_policy.h"
#include "policies/placement/registry.h"
#include "policies/placement/replication.h"
#include "policies/predictors/online_phase.h"

namespace moesim::policies {

struct ReplicatedParams {
  int replicas = 0;  // extra replicas per MoE layer, at most ep x spare_slots
  PlanningParams planning;
  ReplicationMode mode = ReplicationMode::kNodeByNode;
  int groups = 1;  // expert groups (hierarchical mode)
  void describe(params::Visitor& v);
};

struct PhaseAwareParams {
  ReplicatedParams replicated;
  int phase_window = 100;
  double phase_threshold = 0.1;
  void describe(params::Visitor& v);
};

// The replication a policy with these settings plans in `context`'s EP group and spare slots.
ReplicationShape replication_shape(const ReplicatedParams& params, const PlacementContext& context);

class ReplicatedPolicy : public ForecastingPolicy {
 public:
  ReplicatedPolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params, std::unique_ptr<Predictor> predictor,
                   const ReplicationShape& replication);

 protected:
  std::string kind() const override { return "replicated"; }
  Proposal propose(int, std::span<const double> loads, const LayerPlacement&) override { return {replicate_layer(loads, replication_)}; }

 private:
  ReplicationShape replication_;
};

class PhaseAwarePolicy final : public ReplicatedPolicy {
 public:
  PhaseAwarePolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params, std::unique_ptr<Predictor> predictor,
                   const ReplicationShape& replication, int phase_window, double phase_threshold);

 private:
  std::string kind() const override { return "phase_aware"; }
  void learn(const StepLoads& finished, std::span<const float> proportions) override;
  void begin_plan() override { headroom_ = phases_.headroom(2.0); }
  std::span<const double> planning_loads(int layer, const std::vector<double>& expected) const override;

  OnlinePhases phases_;
  std::vector<double> headroom_;  // [series]: mean plus two standard deviations over the phase window
};

}  // namespace moesim::policies
