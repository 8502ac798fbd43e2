#include "models/gating/routing_mode.h"

#include <boost/math/special_functions/beta.hpp>

namespace moesim::gating {

const char* to_string(RoutingMode m) {
  switch (m) {
    case RoutingMode::kTopK: return "topk";
    case RoutingMode::kHash: return "hash";
    case RoutingMode::kLocMoe: return "locmoe";
    case RoutingMode::kC2R: return "c2r";
  }
  return "?";
}

const char* to_string(C2RGroups g) { return g == C2RGroups::kMeasured ? "measured" : "fixed"; }

double locmoe_min_capacity(int d_model, int experts, double delta) {
  // For x = cos^2 between a uniformly random unit vector and a fixed one, x ~ Beta(1/2, (d-1)/2).
  const double aligned = 1.0 - boost::math::ibeta(0.5, (d_model - 1) / 2.0, delta * delta);
  return 1.0 / (experts * aligned);
}

}  // namespace moesim::gating
