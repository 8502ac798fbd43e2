#include "hardware/topology.h"

#include <boost/graph/connected_components.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/property_map/transform_value_property_map.hpp>

namespace moesim::hardware {
namespace {

TopologyVertex add_vertex(TopologyGraph& g, VertexKind kind, int index) {
  return boost::add_vertex(VertexProps{kind, index}, g);
}

void add_link(TopologyGraph& g, TopologyVertex a, TopologyVertex b, Bandwidth bw, Duration lat) {
  boost::add_edge(a, b, EdgeProps{bw, lat}, g);
}

}  // namespace

Topology build_topology(const ClusterSpec& spec) {
  Topology t;
  TopologyGraph& g = t.graph;
  const int groups_per_node = (spec.gpus_per_node + spec.intra_node.group_size - 1) / spec.intra_node.group_size;
  const int pods = (spec.nodes + spec.fabric.leaf_ports - 1) / spec.fabric.leaf_ports;
  const Duration half_nic = Duration::FromPicoseconds(spec.nic.link.latency.picoseconds() / 2);
  const Duration half_intra = Duration::FromPicoseconds(spec.intra_node.link.latency.picoseconds() / 2);
  const Duration half_cross = Duration::FromPicoseconds(spec.intra_node.cross_group_link.latency.picoseconds() / 2);

  std::vector<TopologyVertex> leaves;  // [pod * rails + rail]
  for (int pod = 0; pod < pods; ++pod) {
    for (int rail = 0; rail < spec.nic.count; ++rail) {
      leaves.push_back(add_vertex(g, VertexKind::kLeaf, pod * spec.nic.count + rail));
    }
  }
  if (pods > 1) {
    // Non-blocking: each leaf's uplinks carry what its node-facing ports can.
    const Bandwidth uplink = spec.nic.link.bandwidth * (static_cast<double>(spec.fabric.leaf_ports) / spec.nic.count);
    for (int rail = 0; rail < spec.nic.count; ++rail) {
      const TopologyVertex spine = add_vertex(g, VertexKind::kSpine, rail);
      for (TopologyVertex leaf : leaves) add_link(g, leaf, spine, uplink, spec.fabric.switch_latency);
    }
  }

  t.gpu_vertex.resize(spec.gpu_count());
  for (int node = 0; node < spec.nodes; ++node) {
    std::vector<TopologyVertex> hubs;
    for (int group = 0; group < groups_per_node; ++group) {
      hubs.push_back(add_vertex(g, VertexKind::kIntraSwitch, node * groups_per_node + group));
    }
    if (groups_per_node > 1) {
      const TopologyVertex pcie = add_vertex(g, VertexKind::kPcieSwitch, node);
      for (TopologyVertex hub : hubs) {
        add_link(g, hub, pcie, spec.intra_node.cross_group_link.bandwidth * spec.intra_node.group_size, half_cross);
      }
    }
    std::vector<TopologyVertex> nics;
    const int pod = node / spec.fabric.leaf_ports;
    for (int n = 0; n < spec.nic.count; ++n) {
      const TopologyVertex nic = add_vertex(g, VertexKind::kNic, node * spec.nic.count + n);
      add_link(g, nic, leaves[pod * spec.nic.count + n], spec.nic.link.bandwidth, half_nic + spec.fabric.switch_latency);
      nics.push_back(nic);
    }
    for (int local = 0; local < spec.gpus_per_node; ++local) {
      const int gpu = node * spec.gpus_per_node + local;
      const TopologyVertex v = add_vertex(g, VertexKind::kGpu, gpu);
      t.gpu_vertex[gpu] = v;
      add_link(g, v, hubs[spec.intra_group_of(gpu)], spec.intra_node.link.bandwidth, half_intra);
      add_link(g, v, nics[spec.nic_of(gpu)], spec.nic.link.bandwidth, half_nic);
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
  s.connected = boost::num_vertices(t.graph) > 0 &&
                boost::connected_components(t.graph, component.data()) == 1;
  return s;
}

std::optional<Duration> path_latency(const Topology& t, int gpu_a, int gpu_b) {
  const auto n = boost::num_vertices(t.graph);
  std::vector<int64_t> dist(n);
  boost::dijkstra_shortest_paths(
      t.graph, t.gpu_vertex.at(gpu_a),
      boost::distance_map(dist.data())
          .weight_map(boost::make_transform_value_property_map(
              [](const EdgeProps& e) { return e.latency.picoseconds(); },
              boost::get(boost::edge_bundle, t.graph)))
          .distance_inf(std::numeric_limits<int64_t>::max()));
  const int64_t d = dist[t.gpu_vertex.at(gpu_b)];
  if (d == std::numeric_limits<int64_t>::max()) return std::nullopt;
  return Duration::FromPicoseconds(d);
}

}  // namespace moesim::hardware
