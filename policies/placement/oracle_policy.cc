#include "policies/placement/oracle_policy.h"

#include <algorithm>

#include "policies/placement/registry.h"
#include "policies/placement/replicated_policy.h"

namespace moesim::policies {

void OraclePolicy::foresee(const StepLoads& coming) {
  if (future_.empty()) future_first_ = coming.step;
  future_.push_back(load_proportions(coming.loads));
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

}  // namespace moesim::policies
