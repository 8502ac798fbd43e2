// Benchmark helper: one step of skewed-source routing shaped like a scenario.
#pragma once

#include "models/gating/skewed_source.h"
#include "scenarios/scenario.h"

namespace moesim::bench {

inline gating::RoutingMatrix skewed_routing(const scenarios::Scenario& s) {
  gating::SkewedSourceParams p;
  p.shape.moe_layers = s.model.moe_layer_count();
  p.shape.ranks = s.parallelism.stage_gpus();
  p.shape.experts = s.model.experts;
  p.shape.top_k = s.model.top_k;
  p.shape.tokens_per_rank = s.training.tokens_per_rank(s.parallelism);
  gating::SkewedSource source(p);
  gating::RoutingMatrix routing(p.shape.moe_layers, p.shape.ranks, p.shape.experts);
  source.next(0, routing);
  return routing;
}

}  // namespace moesim::bench
