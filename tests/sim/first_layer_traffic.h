// Test helper: the first MoE layer's traffic and expert times at step 0, under static placement
// (contiguous unless `layout` says otherwise), routed by the scenario's own gating source.
#pragma once

#include <memory>

#include "policies/placement/placement.h"
#include "scenarios/loader/loader.h"
#include "sim/network/network_model.h"
#include "sim/runner.h"
#include "sim/step/step_costs.h"
#include "sim/step/step_metrics.h"
#include "sim/step/traffic.h"

namespace moesim {

// What layer_traffic() needs for the first MoE layer at step 0, made once, so that a test can
// cost the layer as often as it likes.
struct FirstLayer {
  explicit FirstLayer(const scenarios::Scenario& s, policies::StaticLayout layout = policies::StaticLayout::kContiguous)
      : config(scenarios::step_config(s)),
        network(network::make_network_model(s.cluster)),
        costs(step_costs(config, *network)),
        placement(policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep}, layout)),
        routing(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts) {
    make_gating_source(s)->route(0, routing_view(s, placement), routing);
  }
  void traffic(LayerTraffic& out) {
    StepResult result;
    layer_traffic(config, costs, *network, routing, placement.layers[0], 0, out, result);
  }

  StepConfig config;
  std::unique_ptr<network::NetworkModel> network;
  StepCosts costs;
  policies::Placement placement;
  gating::RoutingMatrix routing;
};

inline LayerTraffic first_layer_traffic(const scenarios::Scenario& s, policies::StaticLayout layout = policies::StaticLayout::kContiguous) {
  LayerTraffic traffic;
  FirstLayer(s, layout).traffic(traffic);
  return traffic;
}

}  // namespace moesim
