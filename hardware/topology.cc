#include "hardware/topology.h"

#include "hardware/fabric.h"

#include <boost/graph/connected_components.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/graph/filtered_graph.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/push_relabel_max_flow.hpp>
#include <boost/property_map/transform_value_property_map.hpp>
#include <cmath>
#include <functional>
#include <iomanip>
#include <sstream>

namespace moesim::hardware {
namespace {

class Builder {
 public:
  explicit Builder(TopologyGraph& g) : g_(g) {}
  TopologyVertex vertex(VertexKind kind, int index) { return boost::add_vertex(VertexProps{kind, index}, g_); }
  void link(TopologyVertex a, TopologyVertex b, Bandwidth bw, double efficiency, Duration latency) {
    boost::add_edge(a, b, EdgeProps{bw, efficiency, latency, next_id_++}, g_);
  }

 private:
  TopologyGraph& g_;
  int next_id_ = 0;
};

Duration half(Duration d) { return Duration::FromPicoseconds(d.picoseconds() / 2); }

}  // namespace

FabricLayout fabric_layout(const ClusterSpec& spec) {
  const FabricSpec& fabric = spec.fabric;
  const int64_t rails = spec.nic.count;
  const FabricEntry& kind = fabric_of(spec);
  const int64_t per_leaf = std::max(1, nodes_per_leaf(spec));
  const int64_t pods = (spec.nodes + per_leaf - 1) / per_leaf;
  FabricLayout l;
  // Leaves: one per pod (top-of-rack) or one per pod and rail; planes: leaves that share spines.
  l.leaves = pods * (kind.top_of_rack ? 1 : rails);
  l.planes = kind.plane_per_rail ? rails : 1;
  l.leaves_per_plane = l.leaves / l.planes;
  if (spec.nodes > 1 && l.leaves_per_plane > 1) {
    l.spines = l.planes * fabric.spines;
    l.uplinks = l.spines * l.leaves_per_plane;
    l.connected = fabric.spines > 0;
  }
  return l;
}

Topology build_topology(const ClusterSpec& spec) {
  Topology t;
  Builder b(t.graph);
  const FabricSpec& fabric = spec.fabric;
  const int rails = spec.nic.count;
  const int groups_per_node = (spec.gpus_per_node + spec.intra_node.group_size - 1) / spec.intra_node.group_size;
  const int per_leaf = std::max(1, nodes_per_leaf(spec));
  const bool top_of_rack = fabric_of(spec).top_of_rack;
  const LinkSpec& nic = spec.nic.link;
  const FabricLayout layout = fabric_layout(spec);

  const int leaves_per_pod = top_of_rack ? 1 : rails;
  std::vector<TopologyVertex> leaves;  // [pod * leaves_per_pod + rail]
  for (int64_t i = 0; i < layout.leaves; ++i) leaves.push_back(b.vertex(VertexKind::kLeaf, static_cast<int>(i)));
  const bool plane_per_rail = fabric_of(spec).plane_per_rail;
  const int planes = static_cast<int>(layout.planes);
  if (layout.spines > 0) {
    const Bandwidth downlink = nic.bandwidth * static_cast<double>(fabric.leaf_ports);
    const Bandwidth uplink = downlink * (1.0 / (fabric.oversubscription * std::max(1, fabric.spines)));
    int spine_index = 0;
    for (int plane = 0; plane < planes; ++plane) {
      for (int s = 0; s < fabric.spines; ++s) {
        const TopologyVertex spine = b.vertex(VertexKind::kSpine, spine_index++);
        for (int i = 0; i < static_cast<int>(leaves.size()); ++i) {
          const int leaf_plane = plane_per_rail ? i % rails : 0;
          if (leaf_plane == plane) b.link(leaves[i], spine, uplink, nic.efficiency, fabric.switch_latency);
        }
      }
    }
  }

  t.gpu_vertex.resize(spec.gpu_count());
  for (int node = 0; node < spec.nodes; ++node) {
    std::vector<TopologyVertex> hubs;
    for (int group = 0; group < groups_per_node; ++group) {
      hubs.push_back(b.vertex(VertexKind::kIntraSwitch, node * groups_per_node + group));
    }
    const LinkSpec& cross = spec.intra_node.cross_group_link;
    if (groups_per_node > 1) {
      const TopologyVertex pcie = b.vertex(VertexKind::kPcieSwitch, node);
      for (TopologyVertex hub : hubs) {
        b.link(hub, pcie, cross.bandwidth * spec.intra_node.group_size, cross.efficiency, half(cross.latency));
      }
    }
    std::vector<TopologyVertex> nics;
    const int pod = node / per_leaf;
    for (int n = 0; n < rails; ++n) {
      const TopologyVertex v = b.vertex(VertexKind::kNic, node * rails + n);
      const TopologyVertex leaf = leaves[pod * leaves_per_pod + (top_of_rack ? 0 : n)];
      b.link(v, leaf, nic.bandwidth, nic.efficiency, half(nic.latency) + fabric.switch_latency);
      nics.push_back(v);
    }
    const LinkSpec& intra = spec.intra_node.link;
    for (int local = 0; local < spec.gpus_per_node; ++local) {
      const int gpu = node * spec.gpus_per_node + local;
      const TopologyVertex v = b.vertex(VertexKind::kGpu, gpu);
      t.gpu_vertex[gpu] = v;
      b.link(v, hubs[spec.intra_group_of(gpu)], intra.bandwidth, intra.efficiency, half(intra.latency));
      b.link(v, nics[spec.nic_of(gpu)], nic.bandwidth, nic.efficiency, half(nic.latency));
    }
  }
  return t;
}

TopologySummary summarize(const Topology& t) {
  TopologySummary s;
  for (auto v : boost::make_iterator_range(boost::vertices(t.graph))) {
    switch (t.graph[v].kind) {
      case VertexKind::kGpu: ++s.gpus; break;
      case VertexKind::kIntraSwitch: ++s.intra_switches; break;
      case VertexKind::kPcieSwitch: ++s.pcie_switches; break;
      case VertexKind::kNic: ++s.nics; break;
      case VertexKind::kLeaf: ++s.leaves; break;
      case VertexKind::kSpine: ++s.spines; break;
    }
  }
  s.links = static_cast<int>(boost::num_edges(t.graph));
  std::vector<int> component(boost::num_vertices(t.graph));
  s.connected = boost::num_vertices(t.graph) > 0 && boost::connected_components(t.graph, component.data()) == 1;
  return s;
}

std::vector<int64_t> latencies_from(const Topology& t, int gpu) {
  std::vector<int64_t> dist(boost::num_vertices(t.graph));
  boost::dijkstra_shortest_paths(
      t.graph, t.gpu_vertex.at(gpu),
      boost::distance_map(dist.data())
          .weight_map(boost::make_transform_value_property_map([](const EdgeProps& e) { return e.latency.picoseconds(); },
                                                               boost::get(boost::edge_bundle, t.graph)))
          .distance_inf(kUnreachable));
  return dist;
}

bool in_node_fabric(VertexKind kind) {
  return kind == VertexKind::kGpu || kind == VertexKind::kIntraSwitch || kind == VertexKind::kPcieSwitch;
}

std::vector<int64_t> node_fabric_latencies_from(const Topology& t, int gpu) {
  const auto in_fabric = [&t](TopologyVertex v) { return in_node_fabric(t.graph[v].kind); };
  const boost::filtered_graph<TopologyGraph, boost::keep_all, std::function<bool(TopologyVertex)>> fabric(t.graph, boost::keep_all(),
                                                                                                          in_fabric);
  std::vector<int64_t> dist(boost::num_vertices(t.graph), kUnreachable);
  boost::dijkstra_shortest_paths(
      fabric, t.gpu_vertex.at(gpu),
      boost::distance_map(dist.data())
          .weight_map(boost::make_transform_value_property_map([](const EdgeProps& e) { return e.latency.picoseconds(); },
                                                               boost::get(boost::edge_bundle, t.graph)))
          .vertex_index_map(boost::get(boost::vertex_index, t.graph))
          .distance_inf(kUnreachable));
  return dist;
}

std::optional<Duration> path_latency(const Topology& t, int gpu_a, int gpu_b) {
  const int64_t within = node_fabric_latencies_from(t, gpu_a)[t.gpu_vertex.at(gpu_b)];
  if (within != kUnreachable) return Duration::FromPicoseconds(within);
  const int64_t d = latencies_from(t, gpu_a)[t.gpu_vertex.at(gpu_b)];
  if (d == kUnreachable) return std::nullopt;
  return Duration::FromPicoseconds(d);
}

Bandwidth bisection_bandwidth(const Topology& t) {
  // Max-flow wants a directed graph with a reverse arc per arc; capacities in bytes/s as integers.
  using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
  using FlowGraph =
      boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                            boost::property<boost::edge_capacity_t, int64_t,
                                            boost::property<boost::edge_residual_capacity_t, int64_t,
                                                            boost::property<boost::edge_reverse_t, Traits::edge_descriptor>>>>;
  const size_t gpus = t.gpu_vertex.size();
  if (gpus < 2) return Bandwidth();
  const size_t n = boost::num_vertices(t.graph);
  FlowGraph f(n + 2);
  auto capacity = boost::get(boost::edge_capacity, f);
  auto reverse = boost::get(boost::edge_reverse, f);
  auto arc = [&](size_t a, size_t b, int64_t cap) {
    const auto e = boost::add_edge(a, b, f).first;
    const auto r = boost::add_edge(b, a, f).first;
    capacity[e] = cap;
    capacity[r] = 0;
    reverse[e] = r;
    reverse[r] = e;
  };
  int64_t total = 0;
  for (auto e : boost::make_iterator_range(boost::edges(t.graph))) {
    const auto cap = static_cast<int64_t>(std::llround(t.graph[e].bandwidth.bytes_per_second()));
    arc(boost::source(e, t.graph), boost::target(e, t.graph), cap);
    arc(boost::target(e, t.graph), boost::source(e, t.graph), cap);
    total += cap;
  }
  const size_t source = n, sink = n + 1;
  for (size_t g = 0; g < gpus; ++g) arc(g < gpus / 2 ? source : t.gpu_vertex[g], g < gpus / 2 ? t.gpu_vertex[g] : sink, total);
  const int64_t flow = boost::push_relabel_max_flow(f, source, sink);
  return Bandwidth::BytesPerSecond(static_cast<double>(flow));
}

const char* to_string(VertexKind kind) {
  switch (kind) {
    case VertexKind::kGpu: return "gpu";
    case VertexKind::kIntraSwitch: return "intra";
    case VertexKind::kPcieSwitch: return "pcie";
    case VertexKind::kNic: return "nic";
    case VertexKind::kLeaf: return "leaf";
    case VertexKind::kSpine: return "spine";
  }
  return "?";
}

void write_dot(const Topology& t, std::ostream& out) {
  const auto& g = t.graph;
  boost::write_graphviz(
      out, g,
      [&](std::ostream& o, TopologyVertex v) {
        o << "[label=\"" << to_string(g[v].kind) << g[v].index << "\", shape=" << (g[v].kind == VertexKind::kGpu ? "box" : "ellipse")
          << "]";
      },
      [&](std::ostream& o, auto e) {
        std::ostringstream label;
        label << std::setprecision(4) << g[e].bandwidth.bytes_per_second() / 1e9 << " GB/s";
        o << "[label=\"" << label.str() << "\"]";
      });
}

}  // namespace moesim::hardware
