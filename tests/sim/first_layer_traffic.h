// Test helper: the first MoE layer's traffic and expert times at step 0, under static placement
// (contiguous unless `layout` says otherwise), routed by the scenario's own gating source.
#pragma once

#include "policies/placement/placement.h"
#include "scenarios/loader/loader.h"
#include "sim/network/network_model.h"
#include "sim/runner.h"
#include "sim/step/step_costs.h"
#include "sim/step/step_metrics.h"
#include "sim/step/traffic.h"

namespace moesim {

inline LayerTraffic first_layer_traffic(const scenarios::Scenario& s, policies::StaticLayout layout = policies::StaticLayout::kContiguous) {
  const StepConfig config = scenarios::step_config(s);
  auto network = network::make_network_model(s.cluster);
  const StepCosts costs = step_costs(config, *network);
  const auto placement = policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, layout);
  gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts);
  make_gating_source(s)->route(0, routing_view(s, placement), routing);
  LayerTraffic traffic;
  StepResult result;
  layer_traffic(config, costs, *network, routing, placement.layers[0], 0, traffic, result);
  return traffic;
}

}  // namespace moesim
