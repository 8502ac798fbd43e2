// The traffic of one step: each MoE layer's all-to-all per EP group and the tokens each GPU's
// experts process (from the routing, under the placement and the dispatcher), and the expert state
// a change of placement moves.
#pragma once

#include <optional>
#include <vector>

#include "models/gating/routing_matrix.h"
#include "policies/placement/migration.h"
#include "policies/placement/placement.h"
#include "sim/network/network_model.h"
#include "sim/step/step_config.h"
#include "sim/step/step_costs.h"

namespace moesim {

struct StepResult;

// One MoE layer, per micro-batch (the step's routing split evenly over its micro-batches), on the
// GPUs of the pipeline stage that holds it: vectors per GPU are indexed by its local index there.
struct LayerTraffic {
  int stage = 0;
  std::vector<network::CollectiveCost> a2a;          // per EP group: the dispatch, its count exchange included
  std::vector<network::CollectiveCost> a2a_combine;  // per EP group: the combine (other bytes per element)
  std::vector<Duration> count_exchange;              // per EP group: the dispatcher's count exchange before the payload
  // Tokens each GPU's experts process, per slot: GPU i's slots are slot_begin[i] .. slot_begin[i + 1],
  // one per expert it holds (every expert under ETP), in increasing expert order (slot_expert).
  std::vector<int> slot_begin, slot_expert;
  std::vector<double> expert_rows;
  std::vector<int> slot_of_rank;             // [EP rank * experts + expert]: the slot's offset in that rank's GPUs, -1 if not held
  std::vector<int> rank_begin, rank_expert;  // each EP rank's experts, in increasing order
  // The placement's replicas in expert order, each with its slot's offset in its rank's slots.
  struct ReplicaSlot {
    int expert, ep_rank, slot;
    double share;
  };
  std::vector<ReplicaSlot> replica_slots;
  // The same replicas' shares in one array, and the runs of consecutive replicas on one EP rank (a
  // contiguous layout's run is a GPU's experts): what the per-source loop over a group reads.
  struct ReplicaRun {
    int ep_rank;
    size_t begin, end;
  };
  std::vector<double> replica_share;
  std::vector<ReplicaRun> replica_runs;
  bool one_replica_per_expert = false;     // replica k is expert k's only copy
  size_t run_length = 0;                   // where run r is EP rank r's and all are this long (a contiguous layout), else 0
  std::vector<Duration> experts_forward;   // per local GPU
  std::vector<Duration> experts_backward;  // per local GPU: input and weight gradients
  std::vector<Duration> experts_wgrad;     // per local GPU: its grouped GEMM, the weight gradients' part of the backward
  std::vector<double> rows;                // per local GPU: token rows its experts process
  std::vector<double> sent;                // per local GPU: bytes it sends to other GPUs per dispatch
  std::vector<double> sent_combine;        // per local GPU: bytes it sends per combine
  std::vector<double> sent_rows;           // per local GPU: rows of its own tokens it sends per dispatch
  int64_t assignments = 0;                 // the layer's (token, expert) assignments over the step, all ranks, after drops
  // Expert tensor parallelism (etp > 1), per ETP group of the stage (local index / etp): the
  // dispatched tokens gathered within the group before the experts, and their outputs
  // reduce-scattered after.
  std::vector<network::CollectiveCost> etp_gather, etp_scatter;
  // Per EP group: the copies of each replicated expert reduce their gradients after the last
  // backward (a ring all-reduce among its holders, every expert's at once); none without replicas.
  std::vector<network::CollectiveCost> replica_grad;
  std::vector<double> replica_grad_sent;  // per local GPU: the bytes it sends in that reduction
  // The placement the slots and replica reductions above were worked out for: a step under the same
  // one reuses them (placements change seldom; the slots cost as much as the traffic).
  std::optional<policies::LayerPlacement> laid_out_for;
};

// MoE layer `moe_layer`'s traffic; adds its all-to-all bytes (all four all-to-alls of every
// micro-batch) and its imbalance to `result`. The same in three parts, so that a step can take
// every layer of one EP group together (its routes stay in cache between its layers): begin each
// layer, then each (layer, group) in any order, then end each layer.
void begin_layer_traffic(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network,
                         const policies::LayerPlacement& placement, int moe_layer, LayerTraffic& out);
void group_traffic(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network, const gating::RoutingMatrix& routing,
                   int moe_layer, int group, LayerTraffic& out);
void end_layer_traffic(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network, LayerTraffic& out,
                       StepResult& result);
void layer_traffic(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network, const gating::RoutingMatrix& routing,
                   const policies::LayerPlacement& placement, int moe_layer, LayerTraffic& out, StepResult& result);

struct MigrationTraffic {
  std::vector<network::CollectiveCost> groups;  // per EP group
  std::vector<double> sent;                     // per GPU of a stage: bytes of expert state it sends
};

// The expert state `moves` carry in every EP group; adds the bytes to `result`.
void migration_traffic(const StepCosts& costs, network::NetworkModel& network, const std::vector<policies::ExpertMove>& moves,
                       MigrationTraffic& out, StepResult& result);

}  // namespace moesim
