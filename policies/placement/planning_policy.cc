#include "policies/placement/planning_policy.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "policies/placement/migration.h"
#include "policies/placement/packing.h"
#include "policies/placement/replication.h"
#include "policies/predictors/registry.h"

namespace moesim::policies {

void PlanningParams::describe(params::Visitor& v) {
  params::enumeration(v, "trigger", trigger, kTriggerNames,
                      "interval: plan every rebalance_every steps; gain: adopt a plan only when its forecast gain over the "
                      "horizon exceeds the time its moves take");
  v.count("rebalance_every", rebalance_every, 1, 100'000'000, "steps between plans");
  v.count("horizon", horizon, 1, 1'000'000, "steps a plan looks ahead");
  v.count("warmup", warmup, 1, 100'000'000, "steps observed before the first plan");
  v.real("min_gain", min_gain, {0, 1}, "the least share by which a layer's plan must lower its busiest rank's load");
}

std::vector<float> load_proportions(const ExpertLoads& loads) {
  std::vector<float> out;
  for (const auto& layer : loads) {
    double total = 0;
    for (double v : layer) total += v;
    for (double v : layer) out.push_back(static_cast<float>(total > 0 ? v / total : 1.0 / static_cast<double>(layer.size())));
  }
  return out;
}

LayerPlacement packed_layer(std::span<const double> loads, const LayerPlacement& current, const PlacementShape& shape) {
  LayerPlacement layer;
  for (int rank : pack_experts(loads, shape.ep, shape.experts / shape.ep, first_ranks(current)))
    layer.replicas.push_back({Replica{rank, 1.0}});
  return layer;
}

std::vector<int> first_ranks(const LayerPlacement& layer) {
  std::vector<int> ranks;
  for (const auto& replicas : layer.replicas) ranks.push_back(replicas.front().ep_rank);
  return ranks;
}

PlanningPolicy::PlanningPolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params)
    : shape_(shape), placement_(std::move(initial)), params_(params) {
  if (params.rebalance_every < 1 || params.horizon < 1 || params.warmup < 1) {
    throw std::invalid_argument("placement: rebalance_every, horizon and warmup must be positive");
  }
  if (shape.experts % shape.ep != 0) throw std::invalid_argument("placement: experts must fill the EP ranks evenly");
}

void PlanningPolicy::observe(const StepLoads& finished) {
  ++observed_;
  const auto proportions = load_proportions(finished.loads);
  if (!scored_.empty()) {
    double error = 0;
    for (size_t s = 0; s < scored_.size(); ++s) error += std::abs(scored_[s] - proportions[s]);
    score_sum_ += error / static_cast<double>(scored_.size());
    if (++scored_steps_ == params_.horizon) close_score();
  }
  learn(finished, proportions);
}

void PlanningPolicy::close_score() {
  if (scored_steps_ > 0) scores_.push_back({scored_from_, scored_steps_, 100.0 * score_sum_ / scored_steps_});
  scored_.clear();
  scored_steps_ = 0;
  score_sum_ = 0;
}

std::optional<double> PlanningPolicy::forecast_error_pp() const {
  if (scores_.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& s : scores_) sum += s.error_pp;
  return sum / static_cast<double>(scores_.size());
}

std::span<const double> PlanningPolicy::planning_loads(int layer, const std::vector<double>& expected) const {
  return std::span<const double>(expected).subspan(static_cast<size_t>(layer) * shape_.experts, shape_.experts);
}

void PlanningPolicy::plan(int step) {
  const std::vector<double> mean = expected(step);
  close_score();
  scored_ = mean;
  scored_from_ = step;
  begin_plan();
  Placement next = placement_;
  double gain = 0;  // forecast seconds per step
  for (int l = 0; l < shape_.moe_layers; ++l) {
    const std::span<const double> loads = planning_loads(l, mean);
    LayerPlacement& current = next.layers[l];
    Proposal candidate = propose(l, loads, current);
    const double before = max_rank_load(loads, current, shape_.ep);
    const double after = max_rank_load(loads, candidate.placement, shape_.ep);
    const bool adopt = candidate.adopt || after <= (1 - params_.min_gain) * before;
    if (adopt && candidate.placement != current) {
      gain += (before - after) * costs_.seconds_per_share + candidate.kept_gain * costs_.seconds_per_kept_share;
      current = std::move(candidate.placement);
    }
  }
  end_plan();
  if (params_.trigger == Trigger::kGain) {
    // Moves into one rank queue on its links; ranks receive in parallel.
    std::vector<int> arriving(shape_.ep, 0);
    for (const auto& move : plan_migration(placement_, next)) ++arriving[move.to_rank];
    const double cost = *std::max_element(arriving.begin(), arriving.end()) * costs_.seconds_per_move;
    if (gain * params_.horizon <= cost) return;
  }
  placement_ = std::move(next);
}

const Placement& PlanningPolicy::placement_for(int step) {
  const bool due = last_plan_ < 0 ? observed_ >= params_.warmup : step - last_plan_ >= params_.rebalance_every;
  if (due && ready()) {
    plan(step);
    last_plan_ = step;
  }
  return placement_;
}

ForecastingPolicy::ForecastingPolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params,
                                     std::unique_ptr<Predictor> predictor)
    : PlanningPolicy(shape, std::move(initial), params), predictor_(std::move(predictor)) {
  if (!predictor_) throw std::invalid_argument("placement: a forecasting policy needs a predictor");
}

std::string ForecastingPolicy::name() const { return kind() + "-" + predictor_->name(); }

void ForecastingPolicy::learn(const StepLoads&, std::span<const float> proportions) { predictor_->observe(proportions); }

std::vector<double> ForecastingPolicy::expected(int) {
  const int series = shape().moe_layers * shape().experts, h = planning().horizon;
  std::vector<double> mean(series, 0.0);
  forecast_.resize(static_cast<size_t>(h) * series);
  predictor_->forecast(h, forecast_);
  for (int k = 0; k < h; ++k) {
    for (int s = 0; s < series; ++s) mean[s] += static_cast<double>(forecast_[static_cast<size_t>(k) * series + s]) / h;
  }
  return mean;
}

std::unique_ptr<Predictor> make_context_predictor(const PredictorConfig* config, const PlacementShape& shape) {
  if (!config) throw std::invalid_argument("placement: a forecasting policy needs a predictor");
  return config->make(SeriesShape{shape.moe_layers, shape.experts}, PredictorInputs{});
}

}  // namespace moesim::policies
