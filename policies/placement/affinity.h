// Placing experts that tokens choose together on the same GPU, so that a deduplicating dispatch
// sends such a token there once, and GPUs whose experts are chosen together on the same node:
//   1. the experts are split over the EP ranks, E / ep each (the current placement must hold as
//      many on every rank): a balanced packing by load (packing.h), refined by Kernighan-Lin on the co-activation graph (graph_partition.h)
//      so that no rank's load exceeds max_imbalance x the mean (or what the balanced packing gives, when that is more); the current
//      placement, when within that bound, is refined too, and the split that keeps more co-activation wins;
//   2. when the EP group spans nodes, the ranks' expert sets are split over its nodes the same
//      way, on the graph of co-activation between them (node loads are sums of bounded GPU
//      loads, so no further bound);
//   3. nodes, then the ranks inside each node, are relabelled to keep experts where they are.
// Bottom-up rather than EPLB's top-down (nodes first): the GPU is where today's dispatch saves
// bytes, and splitting nodes first would constrain the GPU split (it keeps less co-activation on
// one GPU in the quickstart-sized case).
#pragma once

#include <span>
#include <vector>

#include "policies/placement/graph_partition.h"

namespace moesim::policies {

struct AffinityShape {
  int ranks = 1;               // EP ranks
  int ranks_per_node = 1;      // EP ranks on one node (ranks when the group fits in a node)
  double max_imbalance = 1.1;  // bound on the busiest GPU's load over the mean
};

// The EP rank of every expert, from its expected load and the layer's co-activation graph.
// `current`: every expert's rank now (empty: none).
std::vector<int> affinity_pack(std::span<const double> loads, const CoactivationGraph& graph, const AffinityShape& shape,
                               std::span<const int> current);

}  // namespace moesim::policies
