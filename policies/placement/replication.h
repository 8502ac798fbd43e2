// Replicating hot experts, hierarchically as DeepSeek's EPLB does (github.com/deepseek-ai/EPLB):
//   1. experts are packed onto the nodes of the EP group, balanced (packing.h), so that each
//      expert's replicas stay inside one node and its traffic where it can;
//   2. inside each node, the spare slots go one by one to the expert with the highest load per
//      replica;
//   3. the node's replicas (each with its expert's load over its replica count) are packed onto
//      the node's ranks, `slots` each.
// Every replica takes an equal share of its expert's tokens. That is moesim's own variant
// (`node_by_node`): its packing refines the greedy one with swaps, and it fills only `replicas`
// of the spare slots. `hierarchical` and `global` are EPLB's own plan exactly (eplb.h), every
// slot filled.
#pragma once

#include <span>
#include <string_view>

#include "policies/placement/placement.h"

namespace moesim::policies {

enum class ReplicationMode { kNodeByNode, kHierarchical, kGlobal };
inline constexpr std::string_view kReplicationModeNames[] = {"node_by_node", "hierarchical", "global"};

struct ReplicationShape {
  int ranks = 1;           // EP ranks
  int ranks_per_node = 1;  // EP ranks on one node (ranks when the group fits in a node)
  int slots = 1;           // expert slots per rank: experts / ranks plus the spare ones
  int replicas = 0;        // extra replicas per layer, at most ranks * slots - experts (EPLB's modes: all of them)
  ReplicationMode mode = ReplicationMode::kNodeByNode;
  int groups = 1;  // expert groups, for EPLB's hierarchical mode
};

// One layer's placement from its expected loads.
LayerPlacement replicate_layer(std::span<const double> loads, const ReplicationShape& shape);

// The largest total load on one rank when each replica takes its share of its expert's load.
double max_rank_load(std::span<const double> loads, const LayerPlacement& placement, int ranks);

}  // namespace moesim::policies
