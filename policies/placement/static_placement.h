// The baseline: experts are assigned once and never move.
//   contiguous:  expert e on rank e / (experts / ep)   (Megatron, DeepSpeed default)
//   round_robin: expert e on rank e % ep
#pragma once

#include "policies/placement/placement.h"

namespace moesim::policies {

enum class StaticLayout { kContiguous, kRoundRobin };

Placement static_placement(const PlacementShape& shape, StaticLayout layout);

class StaticPolicy final : public PlacementPolicy {
 public:
  StaticPolicy(const PlacementShape& shape, StaticLayout layout)
      : placement_(static_placement(shape, layout)), layout_(layout) {}
  std::string name() const override;
  const Placement& placement_for(int) override { return placement_; }
  void observe(int, const ExpertLoads&) override {}

 private:
  Placement placement_;
  StaticLayout layout_;
};

}  // namespace moesim::policies
