// The baseline: experts are assigned once (static_placement, placement.h) and never move.
#pragma once

#include "policies/placement/placement.h"

namespace moesim::policies {

class StaticPolicy final : public PlacementPolicy {
 public:
  StaticPolicy(const PlacementShape& shape, StaticLayout layout) : placement_(static_placement(shape, layout)), layout_(layout) {}
  std::string name() const override;
  const Placement& placement_for(int) override { return placement_; }
  void observe(const StepLoads&) override {}

 private:
  Placement placement_;
  StaticLayout layout_;
};

}  // namespace moesim::policies
