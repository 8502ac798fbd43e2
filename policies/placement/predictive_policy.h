// predictive: the prediction paper's proposal in its plainest form. Each plan packs every MoE
// layer's experts onto the EP ranks (packing.h) by their mean forecast load over the horizon.
#pragma once

#include "policies/placement/planning_policy.h"

namespace moesim::policies {

class PredictivePolicy final : public ForecastingPolicy {
 public:
  using ForecastingPolicy::ForecastingPolicy;

 private:
  std::string kind() const override { return "predictive"; }
  Proposal propose(int, std::span<const double> loads, const LayerPlacement& current) override {
    return {packed_layer(loads, current, shape())};
  }
};

}  // namespace moesim::policies
