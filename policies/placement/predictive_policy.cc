#include "policies/placement/predictive_policy.h"

#include "policies/placement/registry.h"

namespace moesim::policies {

const PlacementEntry& placement_entry_predictive() {
  using Config = PlacementConfigOf<PlanningParams>;
  static const PlacementEntry entry{
      .name = "predictive",
      .summary = "packs each layer's experts by the predictor's forecast",
      .forecasts = true,
      .moves = true,
      .defaults = [](const PlacementDefaults&) -> std::unique_ptr<PlacementConfig> {
        return std::make_unique<Config>("predictive", PlanningParams{}, nullptr,
                                        [](const PlanningParams& p, const PlacementContext& c) -> std::unique_ptr<PlacementPolicy> {
                                          return std::make_unique<PredictivePolicy>(c.shape, static_placement(c.shape, c.layout), p,
                                                                                    make_context_predictor(c.predictor, c.shape));
                                        });
      },
      .label = [](StaticLayout, std::string_view predictor, int) { return "predictive-" + std::string(predictor); },
      .family = [](int) -> std::string_view { return "packing"; },
  };
  return entry;
}

}  // namespace moesim::policies
