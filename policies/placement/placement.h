// Where experts live: each logical expert of each MoE layer maps to one or more EP ranks
// (replicas), each taking a share of that expert's tokens. The same placement is used by every
// expert-parallel group (they hold the same experts).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace moesim::policies {

struct Replica {
  int ep_rank = 0;
  double share = 1.0;  // fraction of the expert's tokens this replica processes
};

struct LayerPlacement {
  std::vector<std::vector<Replica>> replicas;  // [expert]
};

struct Placement {
  std::vector<LayerPlacement> layers;  // [moe layer]
};

// Tokens per expert per MoE layer, summed over ranks: [moe layer][expert].
using ExpertLoads = std::vector<std::vector<double>>;

struct PlacementShape {
  int moe_layers = 1;
  int experts = 1;
  int ep = 1;
};

// Decides the placement of every step. Sees loads of finished steps only (through observe).
// Not thread-safe; one instance per (policy, run).
class PlacementPolicy {
 public:
  virtual ~PlacementPolicy() = default;
  virtual std::string name() const = 0;
  // The placement for `step`; steps are asked for in order.
  virtual const Placement& placement_for(int step) = 0;
  // The expert loads that step `step` produced.
  virtual void observe(int step, const ExpertLoads& loads) = 0;
};

}  // namespace moesim::policies
