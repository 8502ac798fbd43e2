// Placement from forecasts: every `rebalance_every` steps (after `warmup` observed steps), each
// MoE layer's experts are packed onto the EP ranks (packing.h) by their mean forecast load over
// the next `horizon` steps. A plan is adopted only when it lowers the forecast maximum rank load
// by at least `min_gain`: near-uniform loads would otherwise reshuffle experts for nothing.
//
// With a predictor it is the `predictive` policy; given a replication shape, the `replicated` one,
// which plans each layer as DeepSeek's EPLB does (replication.h). Given both a replication shape
// and phase_aware, it is `phase_aware`, what the prediction paper proposes: a layer still in its
// transient phase (online_phase.h) reserves headroom: its replicas are planned from each
// expert's mean load plus two standard deviations over the phase window, so volatile experts get
// them; a stable layer is planned from the forecast. Given an affinity shape, it is `affinity`:
// each layer is planned by affinity_pack (affinity.h) from the forecast and the co-activation
// observed since the previous plan. Without a predictor it is the
// `oracle`: the runner shows it the true loads of the coming steps (lookahead), so it places as
// well as any forecast can, and is the upper bound, not something a real system can do.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "policies/placement/affinity.h"
#include "policies/placement/placement.h"
#include "policies/placement/replication.h"
#include "policies/predictors/online_phase.h"
#include "policies/predictors/predictor.h"

namespace moesim::policies {

// interval: plan every `rebalance_every` steps. gain: consider a plan as often, but adopt it only
// when its forecast step-time gain over the horizon exceeds the time its moves take (estimated
// with PlacementCosts).
enum class Trigger { kInterval, kGain };

struct PredictiveSettings {
  int rebalance_every = 500;
  int horizon = 100;
  int warmup = 100;
  double min_gain = 0.02;
  bool phase_aware = false;
  int phase_window = 100;
  double phase_threshold = 0.1;
  Trigger trigger = Trigger::kInterval;
};

class PredictivePolicy final : public PlacementPolicy {
 public:
  // `initial`: the placement until the first plan (static contiguous, usually). `predictor` null:
  // the oracle. At most one of `replication` and `affinity`.
  PredictivePolicy(const PlacementShape& shape, Placement initial, std::unique_ptr<Predictor> predictor,
                   const PredictiveSettings& settings, std::optional<ReplicationShape> replication = std::nullopt,
                   std::optional<AffinityShape> affinity = std::nullopt);
  std::string name() const override;
  const Placement& placement_for(int step) override;
  void observe(int step, const ExpertLoads& loads) override;
  int lookahead() const override { return predictor_ ? 0 : settings_.horizon; }
  void foresee(int step, const ExpertLoads& loads) override;
  std::optional<double> forecast_error_pp() const override;
  std::vector<ForecastScore> forecast_scores() const override { return scores_; }
  void set_costs(const PlacementCosts& costs) override { costs_ = costs; }
  bool wants_coactivation() const override { return affinity_.has_value(); }
  void observe_coactivation(int step, std::span<const double> pair_shares) override;

 private:
  // Mean forecast proportions over the horizon after `step - 1`, [series].
  std::vector<double> expected(int step);
  void plan(int step);

  PlacementShape shape_;
  Placement placement_;
  std::unique_ptr<Predictor> predictor_;
  PredictiveSettings settings_;
  std::optional<ReplicationShape> replication_;
  std::optional<AffinityShape> affinity_;
  std::vector<double> pair_sum_;  // affinity: co-activation summed over the steps since the last plan
  int pair_steps_ = 0;
  std::optional<OnlinePhases> phases_;
  PlacementCosts costs_;
  int observed_ = 0, last_plan_ = -1;
  std::deque<std::vector<float>> future_;  // oracle: proportions of steps future_first_ ...
  int future_first_ = 0;
  std::vector<float> forecast_;

  // Scoring the forecast of the last plan against the steps that follow it.
  void close_score();
  std::vector<double> scored_;  // [series]: the forecast being scored
  int scored_steps_ = 0;
  int scored_from_ = 0;         // the plan's first step
  double score_sum_ = 0;        // sum over scored steps of the mean absolute error
  std::vector<ForecastScore> scores_;
};

}  // namespace moesim::policies
