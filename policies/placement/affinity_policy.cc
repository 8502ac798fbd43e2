#include "policies/placement/affinity_policy.h"

#include <stdexcept>

#include "policies/placement/graph_partition.h"
#include "policies/placement/registry.h"

namespace moesim::policies {

void AffinityParams::describe(params::Visitor& v) {
  v.real("max_imbalance", max_imbalance, {1, 1000}, "bound on the busiest GPU's forecast load over the mean");
  planning.describe(v);
}

AffinityPolicy::AffinityPolicy(const PlacementShape& shape, Placement initial, const PlanningParams& params,
                               std::unique_ptr<Predictor> predictor, const AffinityShape& affinity)
    : ForecastingPolicy(shape, std::move(initial), params, std::move(predictor)), affinity_(affinity) {}

void AffinityPolicy::learn(const StepLoads& finished, std::span<const float> proportions) {
  ForecastingPolicy::learn(finished, proportions);
  const size_t size = static_cast<size_t>(shape().moe_layers) * shape().experts * shape().experts;
  if (finished.coactivation.size() != size) throw std::invalid_argument("affinity placement: co-activation of the wrong shape");
  if (pair_sum_.empty()) pair_sum_.assign(size, 0.0);
  for (size_t i = 0; i < size; ++i) pair_sum_[i] += finished.coactivation[i];
  ++pair_steps_;
}

void AffinityPolicy::begin_plan() {
  if (pair_steps_ == 0) return;
  for (double& v : pair_sum_) v /= pair_steps_;
}

void AffinityPolicy::end_plan() {
  pair_sum_.clear();
  pair_steps_ = 0;
}

PlanningPolicy::Proposal affinity_proposal(std::span<const double> pairs, int layer, std::span<const double> loads,
                                           const LayerPlacement& current, const AffinityShape& affinity, double min_gain) {
  const int experts = static_cast<int>(loads.size());
  const size_t pairs_per_layer = static_cast<size_t>(experts) * experts;
  const CoactivationGraph graph =
      pairs.empty() ? CoactivationGraph(experts) : coactivation_graph(pairs.subspan(layer * pairs_per_layer, pairs_per_layer), experts);
  const std::vector<int> rank_of = first_ranks(current);
  const std::vector<int> planned = affinity_pack(loads, graph, affinity, rank_of);
  PlanningPolicy::Proposal proposal;
  for (int rank : planned) proposal.placement.replicas.push_back({Replica{rank, 1.0}});
  proposal.kept_gain = kept_coactivation(graph, planned) - kept_coactivation(graph, rank_of);
  proposal.adopt = proposal.kept_gain >= min_gain * total_coactivation(graph) && proposal.kept_gain > 0;
  return proposal;
}

PlanningPolicy::Proposal AffinityPolicy::propose(int layer, std::span<const double> loads, const LayerPlacement& current) {
  return affinity_proposal(pair_sum_, layer, loads, current, affinity_, planning().min_gain);
}

std::optional<PlacementProblem> check_affinity_facts(const std::string& name, const PlacementFacts& f) {
  if (auto problem = check_node_by_node(name, f)) return problem;
  if (f.top_k >= 2 && f.dedup != "none") return std::nullopt;
  return PlacementProblem{"placement",
                          name +
                              " puts experts that tokens choose together on one GPU, which saves all-to-all bytes only when "
                              "tokens choose several experts and go once to each GPU: expected model.top_k >= 2 and dispatch.dedup gpu "
                              "(or dispatch.kernel deepep), got top_k " +
                              std::to_string(f.top_k) + " and dedup " + f.dedup};
}

namespace {

std::optional<PlacementProblem> check_affinity(const AffinityParams&, const PlacementFacts& f) {
  return check_affinity_facts("affinity", f);
}

}  // namespace

const PlacementEntry& placement_entry_affinity() {
  using Config = PlacementConfigOf<AffinityParams>;
  static const PlacementEntry entry{
      .name = "affinity",
      .summary = "experts that tokens choose together share a GPU, within a load bound",
      .forecasts = true,
      .moves = true,
      .defaults = [](const PlacementDefaults&) -> std::unique_ptr<PlacementConfig> {
        return std::make_unique<Config>("affinity", AffinityParams{}, check_affinity,
                                        [](const AffinityParams& p, const PlacementContext& c) -> std::unique_ptr<PlacementPolicy> {
                                          return std::make_unique<AffinityPolicy>(
                                              c.shape, static_placement(c.shape, c.layout), p.planning,
                                              make_context_predictor(c.predictor, c.shape),
                                              AffinityShape{c.shape.ep, c.ranks_per_node, p.max_imbalance});
                                        });
      },
      .label = [](StaticLayout, std::string_view, int) { return std::string("affinity"); },
      .family = [](int) -> std::string_view { return "affinity"; },
  };
  return entry;
}

}  // namespace moesim::policies
