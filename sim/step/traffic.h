// The traffic of one step: each MoE layer's all-to-all per EP group and the tokens each GPU's
// experts process (from the routing, under the placement and dispatch.dedup), and the expert state
// a change of placement moves.
#pragma once

#include <vector>

#include "models/gating/routing_matrix.h"
#include "policies/placement/migration.h"
#include "policies/placement/placement.h"
#include "sim/network/network_model.h"
#include "sim/step/step_config.h"
#include "sim/step/step_costs.h"

namespace moesim {

struct StepResult;

struct LayerTraffic {
  std::vector<network::CollectiveCost> a2a;  // per EP group
  std::vector<double> expert_rows;           // [gpu * experts + expert]: tokens processed
  std::vector<Duration> experts_forward;     // per GPU
  std::vector<double> rows;                  // per GPU: token rows its experts process
  std::vector<double> sent;                  // per GPU: bytes it sends to other GPUs per all-to-all
};

// MoE layer `moe_layer`'s traffic; adds its all-to-all bytes (all four all-to-alls) and its
// imbalance to `result`.
void layer_traffic(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network, const gating::RoutingMatrix& routing,
                   const policies::LayerPlacement& placement, int moe_layer, LayerTraffic& out, StepResult& result);

struct MigrationTraffic {
  std::vector<network::CollectiveCost> groups;  // per EP group
  std::vector<double> sent;                     // per GPU: bytes of expert state it sends
};

// The expert state `moves` carry in every EP group; adds the bytes to `result`.
void migration_traffic(const StepCosts& costs, network::NetworkModel& network, const std::vector<policies::ExpertMove>& moves,
                       MigrationTraffic& out, StepResult& result);

}  // namespace moesim
