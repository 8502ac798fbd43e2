// The cluster as a Boost.Graph graph: GPUs, intra-node fabric switches (NVSwitch, HCCS group
// hubs, the PCIe switch that joins HCCS groups), NICs, leaf switches and spines. Edges carry
// line rate per direction, protocol efficiency and latency. Built from a ClusterSpec; routes,
// latencies and bisection bandwidth are read off the graph rather than assumed.
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <vector>

#include "hardware/specs.h"

namespace moesim::hardware {

enum class VertexKind { kGpu, kIntraSwitch, kPcieSwitch, kNic, kLeaf, kSpine };

struct VertexProps {
  VertexKind kind = VertexKind::kGpu;
  int index = 0;  // GPU id, NIC id, switch id: unique within its kind
};

struct EdgeProps {
  Bandwidth bandwidth;  // line rate per direction
  double efficiency = 1;
  Duration latency;
  int id = 0;  // dense, in insertion order
  Bandwidth effective() const { return bandwidth * efficiency; }
};

using TopologyGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, VertexProps, EdgeProps>;
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

// The switch layer build_topology wires for `spec`, counted without building it (so that a
// scenario can be checked and its memory estimated before anything is allocated).
struct FabricLayout {
  int64_t leaves = 0;  // one per pod (fat-tree) or per pod and rail
  int64_t planes = 1;  // groups of leaves that share spines (multi-plane: one per rail)
  int64_t leaves_per_plane = 0;
  int64_t spines = 0;   // all planes together; 0 when the leaves need none (one node, one leaf)
  int64_t uplinks = 0;  // leaf-spine links
  // Whether every leaf can reach every other: false when leaves must meet at spines and there are none.
  bool connected = true;
};
FabricLayout fabric_layout(const ClusterSpec& spec);

// Builds the graph for `spec` (fabric.h: where NICs meet leaves, which leaves share spines). A fabric whose leaves have no
// spine to meet at (fabric.spines 0) comes out disconnected; summarize() says so.
Topology build_topology(const ClusterSpec& spec);
TopologySummary summarize(const Topology& topology);

// One-way latency in picoseconds of the lowest-latency path from GPU `gpu` to every vertex;
// kUnreachable where there is none.
inline constexpr int64_t kUnreachable = std::numeric_limits<int64_t>::max();
std::vector<int64_t> latencies_from(const Topology& topology, int gpu);

// Vertices of a node's own GPU interconnect: GPUs, NVLink switches or HCCS hubs, and the PCIe
// switch between hubs. Not its NICs.
bool in_node_fabric(VertexKind kind);

// As latencies_from, over the node fabric of `gpu`'s node only: kUnreachable for every vertex
// outside it.
std::vector<int64_t> node_fabric_latencies_from(const Topology& topology, int gpu);

// One-way latency of the path between two GPUs that traffic takes: over their node's own
// interconnect where it joins them (NCCL's peer-to-peer transport, never out through a NIC and
// back in, whatever the latencies), else the lowest-latency path; empty if none exists.
std::optional<Duration> path_latency(const Topology& topology, int gpu_a, int gpu_b);

// Line-rate bandwidth per direction between the first and the second half of the GPUs by id (two
// halves of the nodes where their count is even): the maximum flow between the halves, so it
// counts every path, including forwarding through GPUs over NVLink.
Bandwidth bisection_bandwidth(const Topology& topology);

// Graphviz DOT: vertices named by kind and index, edges labelled with their line rate.
void write_dot(const Topology& topology, std::ostream& out);

const char* to_string(VertexKind kind);

}  // namespace moesim::hardware
