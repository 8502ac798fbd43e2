#include "policies/placement/predictive_policy.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "policies/placement/migration.h"
#include "policies/placement/packing.h"

namespace moesim::policies {

std::vector<float> load_proportions(const ExpertLoads& loads) {
  std::vector<float> out;
  for (const auto& layer : loads) {
    double total = 0;
    for (double v : layer) total += v;
    for (double v : layer) out.push_back(static_cast<float>(total > 0 ? v / total : 1.0 / static_cast<double>(layer.size())));
  }
  return out;
}

PredictivePolicy::PredictivePolicy(const PlacementShape& shape, Placement initial, std::unique_ptr<Predictor> predictor,
                                   const PredictiveSettings& settings, std::optional<ReplicationShape> replication)
    : shape_(shape), placement_(std::move(initial)), predictor_(std::move(predictor)), settings_(settings), replication_(replication) {
  if (settings.rebalance_every < 1 || settings.horizon < 1 || settings.warmup < 1) {
    throw std::invalid_argument("predictive placement: rebalance_every, horizon and warmup must be positive");
  }
  if (shape.experts % shape.ep != 0) throw std::invalid_argument("predictive placement: experts must fill the EP ranks evenly");
  if (settings.phase_aware) {
    if (!replication_ || !predictor_) throw std::invalid_argument("phase-aware placement needs a predictor and spare slots");
    phases_.emplace(SeriesShape{shape.moe_layers, shape.experts}, settings.phase_window, settings.phase_threshold);
  }
}

std::string PredictivePolicy::name() const {
  if (!predictor_) return "oracle";
  if (phases_) return "phase_aware-" + predictor_->name();
  return (replication_ ? "replicated-" : "predictive-") + predictor_->name();
}

void PredictivePolicy::observe(int, const ExpertLoads& loads) {
  ++observed_;
  const auto proportions = load_proportions(loads);
  if (!scored_.empty()) {
    double error = 0;
    for (size_t s = 0; s < scored_.size(); ++s) error += std::abs(scored_[s] - proportions[s]);
    score_sum_ += error / static_cast<double>(scored_.size());
    if (++scored_steps_ == settings_.horizon) close_score();
  }
  if (predictor_) predictor_->observe(proportions);
  if (phases_) phases_->observe(proportions);
}

void PredictivePolicy::foresee(int step, const ExpertLoads& loads) {
  if (future_.empty()) future_first_ = step;
  future_.push_back(load_proportions(loads));
}

std::vector<double> PredictivePolicy::expected(int step) {
  const int series = shape_.moe_layers * shape_.experts, h = settings_.horizon;
  std::vector<double> mean(series, 0.0);
  if (predictor_) {
    forecast_.resize(static_cast<size_t>(h) * series);
    predictor_->forecast(h, forecast_);
    for (int k = 0; k < h; ++k) {
      for (int s = 0; s < series; ++s) mean[s] += static_cast<double>(forecast_[static_cast<size_t>(k) * series + s]) / h;
    }
    return mean;
  }
  while (!future_.empty() && future_first_ < step) {
    future_.pop_front();
    ++future_first_;
  }
  const int seen = std::min<int>(h, static_cast<int>(future_.size()));
  for (int k = 0; k < seen; ++k) {
    for (int s = 0; s < series; ++s) mean[s] += static_cast<double>(future_[k][s]) / seen;
  }
  return mean;
}

void PredictivePolicy::close_score() {
  if (scored_steps_ > 0) {
    error_sum_ += 100.0 * score_sum_ / scored_steps_;
    ++errors_;
  }
  scored_.clear();
  scored_steps_ = 0;
  score_sum_ = 0;
}

std::optional<double> PredictivePolicy::forecast_error_pp() const {
  if (errors_ == 0) return std::nullopt;
  return error_sum_ / errors_;
}

void PredictivePolicy::plan(int step) {
  const std::vector<double> mean = expected(step);
  close_score();
  scored_ = mean;
  const std::vector<double> headroom = phases_ ? phases_->headroom(2.0) : std::vector<double>{};
  const int slots = shape_.experts / shape_.ep;
  Placement next = placement_;
  double gain = 0;  // forecast seconds per step
  for (int l = 0; l < shape_.moe_layers; ++l) {
    const size_t first = static_cast<size_t>(l) * shape_.experts;
    const bool volatile_layer = phases_ && !phases_->stable(l);
    const std::span<const double> loads((volatile_layer ? headroom : mean).data() + first, shape_.experts);
    LayerPlacement& current = next.layers[l];
    LayerPlacement candidate;
    if (replication_) {
      candidate = replicate_layer(loads, *replication_);
    } else {
      std::vector<int> rank_of;
      for (const auto& replicas : current.replicas) rank_of.push_back(replicas.front().ep_rank);
      for (int rank : pack_experts(loads, shape_.ep, slots, rank_of)) candidate.replicas.push_back({Replica{rank, 1.0}});
    }
    const double before = max_rank_load(loads, current, shape_.ep), after = max_rank_load(loads, candidate, shape_.ep);
    if (after <= (1 - settings_.min_gain) * before) {
      gain += (before - after) * costs_.seconds_per_share;
      current = std::move(candidate);
    }
  }
  if (settings_.trigger == Trigger::kGain) {
    // Moves into one rank queue on its links; ranks receive in parallel.
    std::vector<int> arriving(shape_.ep, 0);
    for (const auto& move : plan_migration(placement_, next)) ++arriving[move.to_rank];
    const double cost = *std::max_element(arriving.begin(), arriving.end()) * costs_.seconds_per_move;
    if (gain * settings_.horizon <= cost) return;
  }
  placement_ = std::move(next);
}

const Placement& PredictivePolicy::placement_for(int step) {
  const bool due = last_plan_ < 0 ? observed_ >= settings_.warmup : step - last_plan_ >= settings_.rebalance_every;
  if (due && (predictor_ ? observed_ > 0 : !future_.empty())) {
    plan(step);
    last_plan_ = step;
  }
  return placement_;
}

}  // namespace moesim::policies
