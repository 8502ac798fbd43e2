#include "policies/placement/oracle_policy.h"

#include <algorithm>

#include "policies/placement/registry.h"

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
      .summary = "packs from the true loads of the coming steps: the upper bound",
      .moves = true,
      .reads_future = true,
      .defaults = [](const PlacementDefaults&) -> std::unique_ptr<PlacementConfig> {
        return std::make_unique<Config>("oracle", PlanningParams{}, nullptr,
                                        [](const PlanningParams& p, const PlacementContext& c) -> std::unique_ptr<PlacementPolicy> {
                                          return std::make_unique<OraclePolicy>(c.shape, static_placement(c.shape, c.layout), p);
                                        });
      },
      .label = [](StaticLayout, std::string_view) { return std::string("oracle"); },
  };
  return entry;
}

}  // namespace moesim::policies
