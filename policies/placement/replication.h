// Replicating hot experts, hierarchically as DeepSeek's EPLB does (github.com/deepseek-ai/EPLB):
//   1. experts are packed onto the nodes of the EP group, balanced (packing.h), so that each
//      expert's replicas stay inside one node and its traffic where it can;
//   2. inside each node, the spare slots go one by one to the expert with the highest load per
//      replica;
//   3. the node's replicas (each with its expert's load over its replica count) are packed onto
//      the node's ranks, `slots` each.
// Every replica takes an equal share of its expert's tokens.
#pragma once

#include <span>

#include "policies/placement/placement.h"

namespace moesim::policies {

struct ReplicationShape {
  int ranks = 1;           // EP ranks
  int ranks_per_node = 1;  // EP ranks on one node (ranks when the group fits in a node)
  int slots = 1;           // expert slots per rank: experts / ranks plus the spare ones
  int replicas = 0;        // extra replicas per layer, at most ranks * slots - experts
};

// One layer's placement from its expected loads.
LayerPlacement replicate_layer(std::span<const double> loads, const ReplicationShape& shape);

// The largest total load on one rank when each replica takes its share of its expert's load.
double max_rank_load(std::span<const double> loads, const LayerPlacement& placement, int ranks);

}  // namespace moesim::policies
