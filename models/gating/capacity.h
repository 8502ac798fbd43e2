// GShard / DeepSpeed-MoE capacity: each source rank may send at most `capacity` tokens to an
// expert; the rest are dropped.
#pragma once

#include <cstdint>

#include "models/gating/routing_matrix.h"

namespace moesim::gating {

// Per (source rank, expert) capacity: ceil(capacity_factor * tokens_per_rank * top_k / experts).
int64_t expert_capacity(double capacity_factor, int64_t tokens_per_rank, int top_k, int experts);

// Moves tokens over `capacity` from the routed counts into the dropped counts.
// Returns the number of dropped assignments.
int64_t apply_capacity(RoutingMatrix& routing, int64_t capacity);

}  // namespace moesim::gating
