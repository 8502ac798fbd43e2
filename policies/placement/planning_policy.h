// What every policy that re-places experts shares: every `rebalance_every` steps (after `warmup`
// observed steps) it plans each MoE layer from the loads it expects over the next `horizon` steps,
// and adopts a layer's plan only when it lowers the expected busiest rank's load by at least
// `min_gain` (near-uniform loads would otherwise reshuffle experts for nothing). Each plan's
// expectation is scored against the loads that follow it, as moesim predict scores forecasts.
//
// A policy says where its expectation comes from (a predictor's forecast, or the true future for
// the oracle) and how it plans one layer; the rest is here.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "policies/placement/placement.h"
#include "policies/predictors/predictor.h"
#include "sim/base/params.h"

namespace moesim::policies {

class PredictorConfig;

// interval: plan every `rebalance_every` steps. gain: consider a plan as often, but adopt it only
// when its forecast step-time gain over the horizon exceeds the time its moves take (estimated
// with PlacementCosts).
enum class Trigger { kInterval, kGain };
inline constexpr std::string_view kTriggerNames[] = {"interval", "gain"};

struct PlanningParams {
  int rebalance_every = 500;
  int horizon = 100;
  int warmup = 100;
  double min_gain = 0.02;
  Trigger trigger = Trigger::kInterval;
  void describe(params::Visitor& v);
};

class PlanningPolicy : public PlacementPolicy {
 public:
  PlanningPolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params);
  const Placement& placement_for(int step) final;
  void observe(const StepLoads& finished) final;
  std::optional<double> forecast_error_pp() const final;
  std::vector<ForecastScore> forecast_scores() const final { return scores_; }
  void set_costs(const PlacementCosts& costs) final { costs_ = costs; }

  // One layer's plan: its placement, the share of the layer's tokens whose co-activated experts it
  // brings onto one GPU, and whether it is adopted whatever the load gain.
  struct Proposal {
    LayerPlacement placement;
    double kept_gain = 0;
    bool adopt = false;
  };

 protected:
  // Learns from a finished step (its proportions already computed).
  virtual void learn(const StepLoads& finished, std::span<const float> proportions) = 0;
  // Whether there is anything to plan from.
  virtual bool ready() const { return observed_ > 0; }
  // Mean expected proportions over the horizon after `step - 1`, [series].
  virtual std::vector<double> expected(int step) = 0;
  // Called before and after the layers of one plan.
  virtual void begin_plan() {}
  virtual void end_plan() {}
  // The loads a layer is planned from: by default the expected ones.
  virtual std::span<const double> planning_loads(int layer, const std::vector<double>& expected) const;
  virtual Proposal propose(int layer, std::span<const double> loads, const LayerPlacement& current) = 0;

  const PlacementShape& shape() const { return shape_; }
  const PlanningParams& planning() const { return params_; }

 private:
  void plan(int step);
  void close_score();

  PlacementShape shape_;
  Placement placement_;
  PlanningParams params_;
  PlacementCosts costs_;
  int observed_ = 0, last_plan_ = -1;

  // Scoring the expectation of the last plan against the steps that follow it.
  std::vector<double> scored_;  // [series]: the expectation being scored
  int scored_steps_ = 0;
  int scored_from_ = 0;   // the plan's first step
  double score_sum_ = 0;  // sum over scored steps of the mean absolute error
  std::vector<ForecastScore> scores_;
};

// A planning policy that expects what a predictor forecasts (all but the oracle).
class ForecastingPolicy : public PlanningPolicy {
 public:
  ForecastingPolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params, std::unique_ptr<Predictor> predictor);
  std::string name() const override;

 protected:
  // "predictive", "replicated" ...: the name is "<kind>-<predictor>".
  virtual std::string kind() const = 0;
  void learn(const StepLoads& finished, std::span<const float> proportions) override;
  std::vector<double> expected(int step) override;

 private:
  std::unique_ptr<Predictor> predictor_;
  std::vector<float> forecast_;
};

// The predictor a forecasting policy's context names, for its layers and experts.
std::unique_ptr<Predictor> make_context_predictor(const PredictorConfig* config, const PlacementShape& shape);

// One layer packed onto the EP ranks by its loads (packing.h), one replica per expert.
LayerPlacement packed_layer(std::span<const double> loads, const LayerPlacement& current, const PlacementShape& shape);

// The rank of each expert's first replica.
std::vector<int> first_ranks(const LayerPlacement& layer);

}  // namespace moesim::policies
