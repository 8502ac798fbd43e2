// The expert co-activation graph of one MoE layer and its balanced partition into parts (GPUs or
// nodes) that keep as much co-activation inside the parts as a load bound allows.
//
// Boost.Graph has no balanced k-way partitioner (its matching is not usable: Boost 1.74's
// maximum_weighted_matching fails on dense graphs, boostorg/graph#399), so the refinement is
// Kernighan and Lin's (1970), generalized to k parts: passes of tentative swaps between parts,
// each the best one left, every swapped vertex locked for the rest of the pass, keeping the best
// prefix of the pass. Swaps keep every part's size, so slot counts hold by construction.
#pragma once

#include <span>
#include <vector>

#include <boost/graph/adjacency_matrix.hpp>

namespace moesim::policies {

// Vertices are experts; the weight of edge {e, f} is the share of the layer's tokens that chose
// both e and f. Dense: with top-k routing most pairs of a layer's experts meet at least once.
using CoactivationGraph = boost::adjacency_matrix<boost::undirectedS, boost::no_property, boost::property<boost::edge_weight_t, double>>;

// `pair_shares[e * experts + f]`: symmetric; zero (and the diagonal) gives no edge.
CoactivationGraph coactivation_graph(std::span<const double> pair_shares, int experts);

// The total weight of the graph's edges.
double total_coactivation(const CoactivationGraph& graph);

// The weight of the edges whose ends are in the same part: part_of[v] for every vertex v.
double kept_coactivation(const CoactivationGraph& graph, std::span<const int> part_of);

// Improves `part` (part[i] in [0, parts) for the vertex vertices[i], with load loads[i]) so that
// more edge weight lies inside parts, never letting a part's load exceed `max_part_load`, which
// the starting partition must respect. Deterministic. Returns the weight gained.
double kernighan_lin(const CoactivationGraph& graph, std::span<const int> vertices, std::span<const double> loads, int parts,
                     double max_part_load, std::vector<int>& part);

}  // namespace moesim::policies
