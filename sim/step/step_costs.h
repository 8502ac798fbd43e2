// The cost model of a step's parts that do not depend on routing or placement: every kernel's
// time (compute_model.h), the gradient all-reduces, the optimizer step, and what moving an expert
// weighs. Computed once per run.
#pragma once

#include <vector>

#include "policies/placement/placement.h"
#include "sim/network/network_model.h"
#include "sim/step/step_config.h"

namespace moesim {

struct StepCosts {
  int gpus = 1, ep = 1, groups = 1;          // GPUs, EP group size, EP groups
  std::vector<int> layer_to_moe;             // model layer -> MoE layer index, or -1
  std::vector<std::vector<int>> ep_groups;   // GPUs of each EP group
  std::vector<std::vector<int>> edp_groups;  // GPUs holding each EP rank's experts

  // Per routed expert: weight parameters, forward FLOPs per token, and the bytes of its state
  // (weights, gradients, optimizer state) that a move carries.
  double expert_params = 0, expert_flops_per_token = 0, expert_state_bytes = 0;
  // Forward kernel times per GPU (backward: twice these); the LM head forward and backward.
  Duration attention_fwd, dense_ffn_fwd, gate_fwd, shared_fwd, lm_head, optimizer;
  std::vector<network::CollectiveCost> dense_grad;   // per layer (layer 0 also carries the embedding)
  std::vector<double> dense_grad_bytes;              // per layer
  std::vector<network::CollectiveCost> expert_grad;  // per EP rank, over its expert-data-parallel group
  double expert_grad_bytes = 0;                      // per GPU
};

StepCosts step_costs(const StepConfig& config, network::NetworkModel& network);

// Linear estimates for policies that weigh gains against moves: the busiest rank's expert
// compute (forward and backward) and all-to-all time for a whole layer's tokens of an EP group,
// the time to move one expert's state over the slowest link between two of its GPUs, and the
// all-to-all time saved when a layer's tokens send one copy fewer.
policies::PlacementCosts placement_costs(const StepConfig& config, const StepCosts& costs);

}  // namespace moesim
