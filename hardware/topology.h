// The cluster as a Boost.Graph graph: GPUs, intra-node fabric switches (NVSwitch, HCCS group
// hubs, the PCIe switch that joins HCCS groups), NICs, rail leaf switches and spines. Edges carry
// bandwidth per direction and latency. Built from a ClusterSpec; routes and latencies are read off
// the graph rather than assumed.
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <optional>
#include <vector>

#include "hardware/specs.h"

namespace moesim::hardware {

enum class VertexKind { kGpu, kIntraSwitch, kPcieSwitch, kNic, kLeaf, kSpine };

struct VertexProps {
  VertexKind kind = VertexKind::kGpu;
  int index = 0;  // GPU id, NIC id, switch id: unique within its kind
};

struct EdgeProps {
  Bandwidth bandwidth;
  Duration latency;
};

using TopologyGraph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, VertexProps, EdgeProps>;
using TopologyVertex = boost::graph_traits<TopologyGraph>::vertex_descriptor;

struct Topology {
  TopologyGraph graph;
  std::vector<TopologyVertex> gpu_vertex;  // by GPU id
};

struct TopologySummary {
  int gpus = 0, intra_switches = 0, pcie_switches = 0, nics = 0, leaves = 0, spines = 0;
  int links = 0;
  bool connected = false;
};

// Builds the graph for `spec`. Nodes are grouped into pods of `fabric.leaf_ports` nodes; each
// pod has one leaf per rail, and pods are joined by non-blocking spines (one per rail).
Topology build_topology(const ClusterSpec& spec);
TopologySummary summarize(const Topology& topology);
// One-way latency of the lowest-latency path between two GPUs; empty if none exists.
std::optional<Duration> path_latency(const Topology& topology, int gpu_a, int gpu_b);

}  // namespace moesim::hardware
