#include "policies/placement/static_placement.h"

#include "policies/placement/registry.h"

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

std::string StaticPolicy::name() const { return layout_ == StaticLayout::kContiguous ? "static" : "static (round-robin)"; }

const PlacementEntry& placement_entry_static() {
  using Config = PlacementConfigOf<params::NoParams>;
  static const PlacementEntry entry{
      .name = "static",
      .summary = "experts stay where the layout puts them (the baseline)",
      .defaults = [](const PlacementDefaults&) -> std::unique_ptr<PlacementConfig> {
        return std::make_unique<Config>("static", params::NoParams{}, nullptr,
                                        [](const params::NoParams&, const PlacementContext& c) -> std::unique_ptr<PlacementPolicy> {
                                          return std::make_unique<StaticPolicy>(c.shape, c.layout);
                                        });
      },
      .label = [](StaticLayout layout, std::string_view,
                  int) { return std::string(layout == StaticLayout::kRoundRobin ? "static-rr" : "static"); },
  };
  return entry;
}

}  // namespace moesim::policies
