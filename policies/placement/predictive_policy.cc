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
                                   const PredictiveSettings& settings, std::optional<ReplicationShape> replication,
                                   std::optional<AffinityShape> affinity)
    : shape_(shape),
      placement_(std::move(initial)),
      predictor_(std::move(predictor)),
      settings_(settings),
      replication_(replication),
      affinity_(affinity) {
  if (settings.rebalance_every < 1 || settings.horizon < 1 || settings.warmup < 1) {
    throw std::invalid_argument("predictive placement: rebalance_every, horizon and warmup must be positive");
  }
  if (shape.experts % shape.ep != 0) throw std::invalid_argument("predictive placement: experts must fill the EP ranks evenly");
  if (replication_ && affinity_) throw std::invalid_argument("predictive placement: replication and affinity are different policies");
  if (affinity_ && !predictor_) throw std::invalid_argument("affinity placement needs a predictor");
  if (settings.phase_aware) {
    if (!replication_ || !predictor_) throw std::invalid_argument("phase-aware placement needs a predictor and spare slots");
    phases_.emplace(SeriesShape{shape.moe_layers, shape.experts}, settings.phase_window, settings.phase_threshold);
  }
}

std::string PredictivePolicy::name() const {
  if (!predictor_) return "oracle";
  if (phases_) return "phase_aware-" + predictor_->name();
  if (affinity_) return "affinity-" + predictor_->name();
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

void PredictivePolicy::observe_coactivation(int, std::span<const double> pair_shares) {
  const size_t size = static_cast<size_t>(shape_.moe_layers) * shape_.experts * shape_.experts;
  if (pair_shares.size() != size) throw std::invalid_argument("affinity placement: co-activation of the wrong shape");
  if (pair_sum_.empty()) pair_sum_.assign(size, 0.0);
  for (size_t i = 0; i < size; ++i) pair_sum_[i] += pair_shares[i];
  ++pair_steps_;
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
  if (scored_steps_ > 0) scores_.push_back({scored_from_, scored_steps_, 100.0 * score_sum_ / scored_steps_});
  scored_.clear();
  scored_steps_ = 0;
  score_sum_ = 0;
}

std::optional<double> PredictivePolicy::forecast_error_pp() const {
  if (scores_.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& s : scores_) sum += s.error_pp;
  return sum / static_cast<double>(scores_.size());
}

void PredictivePolicy::plan(int step) {
  const std::vector<double> mean = expected(step);
  close_score();
  scored_ = mean;
  scored_from_ = step;
  const std::vector<double> headroom = phases_ ? phases_->headroom(2.0) : std::vector<double>{};
  const int slots = shape_.experts / shape_.ep;
  const size_t pairs_per_layer = static_cast<size_t>(shape_.experts) * shape_.experts;
  if (affinity_ && pair_steps_ > 0) {
    for (double& v : pair_sum_) v /= pair_steps_;
  }
  Placement next = placement_;
  double gain = 0;  // forecast seconds per step
  for (int l = 0; l < shape_.moe_layers; ++l) {
    const size_t first = static_cast<size_t>(l) * shape_.experts;
    const bool volatile_layer = phases_ && !phases_->stable(l);
    const std::span<const double> loads((volatile_layer ? headroom : mean).data() + first, shape_.experts);
    LayerPlacement& current = next.layers[l];
    std::vector<int> rank_of;
    for (const auto& replicas : current.replicas) rank_of.push_back(replicas.front().ep_rank);
    LayerPlacement candidate;
    double kept_gain = 0;  // share of the layer's tokens whose expert pair joins one GPU
    bool adopt = false;
    if (replication_) {
      candidate = replicate_layer(loads, *replication_);
    } else if (affinity_) {
      const CoactivationGraph graph =
          pair_sum_.empty() ? CoactivationGraph(shape_.experts)
                            : coactivation_graph(std::span<const double>(pair_sum_).subspan(l * pairs_per_layer, pairs_per_layer), shape_.experts);
      const std::vector<int> planned = affinity_pack(loads, graph, *affinity_, rank_of);
      for (int rank : planned) candidate.replicas.push_back({Replica{rank, 1.0}});
      kept_gain = kept_coactivation(graph, planned) - kept_coactivation(graph, rank_of);
      adopt = kept_gain >= settings_.min_gain * total_coactivation(graph) && kept_gain > 0;
    } else {
      for (int rank : pack_experts(loads, shape_.ep, slots, rank_of)) candidate.replicas.push_back({Replica{rank, 1.0}});
    }
    const double before = max_rank_load(loads, current, shape_.ep), after = max_rank_load(loads, candidate, shape_.ep);
    adopt = adopt || after <= (1 - settings_.min_gain) * before;
    if (adopt && candidate != current) {
      gain += (before - after) * costs_.seconds_per_share + kept_gain * costs_.seconds_per_kept_share;
      current = std::move(candidate);
    }
  }
  pair_sum_.clear();
  pair_steps_ = 0;
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
