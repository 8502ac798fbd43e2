// Where per-step routing comes from. Implementations: the skewed synthetic source (here), and
// later the learned-gate generator and trace replay.
#pragma once

#include <cstdint>
#include <string>

#include "models/gating/routing_matrix.h"

namespace moesim::gating {

// The shape of the routing a source produces: [moe_layers][ranks][experts] assignments, each
// rank routing tokens_per_rank tokens to top_k experts.
struct GatingShape {
  int moe_layers = 1;
  int ranks = 1;
  int experts = 1;
  int top_k = 1;
  int64_t tokens_per_rank = 1;
};

// Produces the routing of successive training steps. Steps are requested in order 0, 1, 2, ...
// Not thread-safe; one instance per run.
class Source {
 public:
  virtual ~Source() = default;
  // Fills `out` (already sized [moe layers][ranks][experts]) with the routing of `step`, before
  // capacity clipping: `dropped` is left zero; the step builder applies capacity.
  virtual void next(int step, RoutingMatrix& out) = 0;
  virtual std::string describe() const = 0;
};

}  // namespace moesim::gating
