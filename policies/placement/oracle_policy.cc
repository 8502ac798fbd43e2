#include "policies/placement/oracle_policy.h"

#include <algorithm>
#include <stdexcept>

#include "policies/placement/affinity_policy.h"
#include "policies/placement/registry.h"
#include "policies/placement/replicated_policy.h"

namespace moesim::policies {

void OraclePolicy::foresee(const StepLoads& coming) {
  if (future_.empty()) future_first_ = coming.step;
  future_.push_back(load_proportions(coming.loads));
  if (affinity_) count_pairs(coming.coactivation, 1);
}

void OraclePolicy::learn(const StepLoads& finished, std::span<const float>) {
  if (affinity_) count_pairs(finished.coactivation, -1);
}

void OraclePolicy::count_pairs(std::span<const double> coactivation, double sign) {
  const size_t size = static_cast<size_t>(shape().moe_layers) * shape().experts * shape().experts;
  if (coactivation.size() != size) throw std::invalid_argument("oracle_affinity placement: co-activation of the wrong shape");
  if (coming_pairs_.empty()) coming_pairs_.assign(size, 0.0);
  for (size_t i = 0; i < size; ++i) coming_pairs_[i] += sign * coactivation[i];
}

PlanningPolicy::Proposal OraclePolicy::propose(int layer, std::span<const double> loads, const LayerPlacement& current) {
  if (affinity_) return affinity_proposal(coming_pairs_, layer, loads, current, *affinity_, planning().min_gain);
  return {replication_ ? replicate_layer(loads, *replication_) : packed_layer(loads, current, shape())};
}

std::vector<double> OraclePolicy::expected(int step) {
  const int series = shape().moe_layers * shape().experts;
  std::vector<double> mean(series, 0.0);
  while (!future_.empty() && future_first_ < step) {
    future_.pop_front();
    ++future_first_;
  }
  const int seen = std::min<int>(planning().horizon, static_cast<int>(future_.size()));
  for (int k = 0; k < seen; ++k) {
    for (int s = 0; s < series; ++s) mean[s] += static_cast<double>(future_[k][s]) / seen;
  }
  return mean;
}

const PlacementEntry& placement_entry_oracle() {
  using Config = PlacementConfigOf<PlanningParams>;
  static const PlacementEntry entry{
      .name = "oracle",
      .summary = "plans from the true loads of the coming steps: the upper bound (packs; with spare slots, replicates into all of them)",
      .moves = true,
      .reads_future = true,
      .defaults = [](const PlacementDefaults&) -> std::unique_ptr<PlacementConfig> {
        return std::make_unique<Config>(
            "oracle", PlanningParams{},
            [](const PlanningParams&, const PlacementFacts& f) -> std::optional<PlacementProblem> {
              // With spare slots it replicates, node by node.
              return f.spare_slots > 0 ? check_node_by_node("oracle", f) : std::nullopt;
            },
            [](const PlanningParams& p, const PlacementContext& c) -> std::unique_ptr<PlacementPolicy> {
              std::optional<ReplicationShape> replication;
              if (c.spare_slots > 0) replication = replication_shape({c.shape.ep * c.spare_slots, p}, c);
              return std::make_unique<OraclePolicy>(c.shape, static_placement(c.shape, c.layout), p, replication);
            });
      },
      // Which policies it bounds: packing ones, or with spare slots the replicating ones.
      .label = [](StaticLayout, std::string_view,
                  int spare_slots) { return std::string(spare_slots > 0 ? "oracle-replicated" : "oracle"); },
      .family = [](int spare_slots) -> std::string_view { return spare_slots > 0 ? "replication" : "packing"; },
  };
  return entry;
}

const PlacementEntry& placement_entry_oracle_affinity() {
  using Config = PlacementConfigOf<AffinityParams>;
  static const PlacementEntry entry{
      .name = "oracle_affinity",
      .summary = "plans as affinity does from the true loads and co-activation of the coming steps: affinity's upper bound",
      .moves = true,
      .reads_future = true,
      .defaults = [](const PlacementDefaults&) -> std::unique_ptr<PlacementConfig> {
        return std::make_unique<Config>(
            "oracle_affinity", AffinityParams{},
            [](const AffinityParams&, const PlacementFacts& f) { return check_affinity_facts("oracle_affinity", f); },
            [](const AffinityParams& p, const PlacementContext& c) -> std::unique_ptr<PlacementPolicy> {
              return std::make_unique<OraclePolicy>(c.shape, static_placement(c.shape, c.layout), p.planning, std::nullopt,
                                                    AffinityShape{c.shape.ep, c.ranks_per_node, p.max_imbalance});
            });
      },
      .label = [](StaticLayout, std::string_view, int) { return std::string("oracle-affinity"); },
      .family = [](int) -> std::string_view { return "affinity"; },
  };
  return entry;
}

}  // namespace moesim::policies
