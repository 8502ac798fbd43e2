#include "hardware/routing.h"

#include <algorithm>

namespace moesim::hardware {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

Router::Router(const Topology& topology, FabricRouting routing) : topology_(topology), routing_(routing) {
  const auto& g = topology.graph;
  capacity_.resize(2 * boost::num_edges(g));
  for (auto e : boost::make_iterator_range(boost::edges(g))) {
    capacity_[2 * g[e].id] = capacity_[2 * g[e].id + 1] = g[e].effective().bytes_per_second();
  }
  distance_.resize(topology.gpu_vertex.size());
}

const std::vector<int64_t>& Router::distances_to(int gpu) {
  // The graph is undirected: latencies from the destination are latencies to it.
  auto& dist = distance_[gpu];
  if (dist.empty()) dist = latencies_from(topology_, gpu);
  return dist;
}

std::span<const RouteHop> Router::route(int a, int b) {
  const size_t gpus = topology_.gpu_vertex.size();
  if (route_begin_.empty()) {
    route_begin_.assign(gpus * gpus, 0);
    route_length_.assign(gpus * gpus, 0);
  }
  const size_t pair = static_cast<size_t>(a) * gpus + b;
  if (route_begin_[pair] == 0) {
    route_begin_[pair] = static_cast<uint32_t>(route_links_.size()) + 1;
    const auto& g = topology_.graph;
    const auto& dist = distances_to(b);
    const auto source = topology_.gpu_vertex[a], target = topology_.gpu_vertex[b];
    if (a != b && dist[source] != kUnreachable) {
      const uint64_t flow_hash = mix(pair);
      // The shortest-path DAG, walked from the farthest vertex down, so that all of a vertex's
      // share has arrived before it is passed on.
      std::vector<std::pair<int64_t, TopologyVertex>> queue{{dist[source], source}};
      std::vector<std::pair<TopologyVertex, double>> share{{source, 1.0}};
      std::vector<std::pair<TopologyVertex, LinkId>> next;  // equal-cost next hops
      while (!queue.empty()) {
        std::pop_heap(queue.begin(), queue.end());
        const TopologyVertex v = queue.back().second;
        queue.pop_back();
        if (v == target) continue;
        double mass = 0;
        for (const auto& [u, m] : share) mass += u == v ? m : 0;
        next.clear();
        bool forwards = false;
        for (auto e : boost::make_iterator_range(boost::out_edges(v, g))) {
          const auto u = boost::target(e, g);
          if (dist[u] == kUnreachable || dist[u] + g[e].latency.picoseconds() != dist[v]) continue;
          next.emplace_back(u, 2 * static_cast<LinkId>(g[e].id) + (v < u ? 0 : 1));
          forwards |= g[v].kind == VertexKind::kGpu && g[u].kind == VertexKind::kIntraSwitch;
        }
        if (forwards) {
          std::erase_if(next, [&](const auto& hop) { return g[hop.first].kind != VertexKind::kIntraSwitch; });
        }
        if (routing_ == FabricRouting::kEcmp) next = {next[mix(flow_hash ^ v) % next.size()]};
        const double each = mass / static_cast<double>(next.size());
        for (const auto& [u, link] : next) {
          route_links_.push_back({link, each});
          auto it = std::find_if(share.begin(), share.end(), [u = u](const auto& s) { return s.first == u; });
          if (it == share.end()) {
            share.emplace_back(u, each);
            queue.emplace_back(dist[u], u);
            std::push_heap(queue.begin(), queue.end());
          } else {
            it->second += each;
          }
        }
      }
    }
    route_length_[pair] = static_cast<uint32_t>(route_links_.size() + 1 - route_begin_[pair]);
  }
  return {route_links_.data() + route_begin_[pair] - 1, route_length_[pair]};
}

}  // namespace moesim::hardware
