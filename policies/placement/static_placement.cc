#include "policies/placement/static_placement.h"

namespace moesim::policies {

Placement static_placement(const PlacementShape& shape, StaticLayout layout) {
  const int per_rank = shape.experts / shape.ep;
  Placement p;
  p.layers.resize(shape.moe_layers);
  for (auto& layer : p.layers) {
    layer.replicas.resize(shape.experts);
    for (int e = 0; e < shape.experts; ++e) {
      const int rank = layout == StaticLayout::kContiguous ? e / per_rank : e % shape.ep;
      layer.replicas[e] = {Replica{rank, 1.0}};
    }
  }
  return p;
}

std::string StaticPolicy::name() const {
  return layout_ == StaticLayout::kContiguous ? "static" : "static (round-robin)";
}

}  // namespace moesim::policies
