#include "hardware/routing.h"

#include <algorithm>
#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <boost/graph/connected_components.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/graph/dijkstra_shortest_paths_no_color_map.hpp>
#include <boost/graph/filtered_graph.hpp>
#include <limits>
#include <optional>
#include <stdexcept>

namespace moesim::hardware {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool is_switch_layer(VertexKind kind) { return kind == VertexKind::kLeaf || kind == VertexKind::kSpine; }

// Vertices of the islands: all but leaves and spines (a filtered_graph predicate: default-constructible).
struct InIsland {
  const TopologyGraph* graph = nullptr;
  bool operator()(TopologyVertex v) const { return !is_switch_layer((*graph)[v].kind); }
};

// A destination's island and its boundary leaves as a small graph of their own, the leaves joined
// by their latencies through the rest of the cluster.
using IslandGraph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property, boost::property<boost::edge_weight_t, int64_t>>;

}  // namespace

// An island's graphs, the same for each of its GPUs as a destination: kept for the island last
// asked for, as destinations come GPU by GPU.
struct Router::IslandGraphs {
  int island = -1;
  std::optional<IslandGraph> whole;   // the island and its boundary leaves, the leaves joined through the cluster
  std::optional<IslandGraph> fabric;  // the island's node fabric alone
};

Router::~Router() = default;

Router::Router(const Topology& topology, FabricRouting routing) : topology_(topology), routing_(routing) {
  const auto& g = topology.graph;
  capacity_.resize(2 * boost::num_edges(g));
  for (auto e : boost::make_iterator_range(boost::edges(g))) {
    capacity_[2 * g[e].id] = capacity_[2 * g[e].id + 1] = g[e].effective().bytes_per_second();
  }
  const size_t vertices = boost::num_vertices(g);
  arc_begin_.reserve(vertices + 1);
  kind_.reserve(vertices);
  for (TopologyVertex v = 0; v < vertices; ++v) {
    arc_begin_.push_back(arcs_.size());
    kind_.push_back(g[v].kind);
    for (auto e : boost::make_iterator_range(boost::out_edges(v, g))) {
      const auto u = boost::target(e, g);
      // A link at zero latency still costs its hop 1 ps here, where routes are chosen: among
      // equal latencies a path would otherwise run in circles. Every hop then brings a route
      // strictly nearer, and a path's latency is off its true one by at most 1 ps a hop.
      const int64_t latency = std::max<int64_t>(g[e].latency.picoseconds(), 1);
      arcs_.push_back({u, latency, 2 * static_cast<LinkId>(g[e].id) + (v < u ? 0 : 1)});
    }
  }
  arc_begin_.push_back(arcs_.size());
  island_.assign(vertices, -1);
  const InIsland in_island{&g};
  const boost::filtered_graph<TopologyGraph, boost::keep_all, InIsland> islands(g, boost::keep_all(), in_island);
  std::vector<int> component(vertices, -1);
  const int count = boost::connected_components(islands, component.data());
  island_vertices_.resize(count);
  island_boundary_.resize(count);
  island_position_.assign(vertices, -1);
  leaf_slot_.assign(vertices, -1);
  for (TopologyVertex v = 0; v < vertices; ++v) {
    if (!in_island(v)) {
      if (g[v].kind == VertexKind::kLeaf) leaf_slot_[v] = static_cast<int>(leaf_count_++);
      continue;
    }
    island_[v] = component[v];
    island_position_[v] = static_cast<int>(island_vertices_[component[v]].size());
    island_vertices_[component[v]].push_back(v);
    for (auto e : boost::make_iterator_range(boost::out_edges(v, g))) {
      const auto u = boost::target(e, g);
      if (!in_island(u)) island_boundary_[component[v]].push_back(u);
    }
  }
  island_boundary_slots_.resize(count);
  for (int island = 0; island < count; ++island) {
    auto& boundary = island_boundary_[island];
    std::sort(boundary.begin(), boundary.end());
    boundary.erase(std::unique(boundary.begin(), boundary.end()), boundary.end());
    for (TopologyVertex leaf : boundary) island_boundary_slots_[island].push_back(leaf_slot_[leaf]);
  }
  destinations_.resize(topology.gpu_vertex.size());
  island_graphs_ = std::make_unique<IslandGraphs>();
}

void Router::compute_leaf_latencies() {
  const size_t vertices = island_.size();
  leaf_latency_.resize(vertices * leaf_count_);
  // The arcs as Boost's compressed sparse rows: one Dijkstra per leaf over contiguous arrays
  // rather than the topology's linked edge lists.
  std::vector<std::pair<size_t, size_t>> ends;
  std::vector<int64_t> latency;
  ends.reserve(arcs_.size());
  latency.reserve(arcs_.size());
  for (TopologyVertex v = 0; v < vertices; ++v) {
    for (const Arc& arc : arcs(v)) {
      ends.emplace_back(v, arc.to);
      latency.push_back(arc.latency);
    }
  }
  using Csr = boost::compressed_sparse_row_graph<boost::directedS, boost::no_property, boost::no_property>;
  // GCC 12 at -O3 sees out-of-bounds stores in Boost's inlined CSR set-up that cannot happen
  // (-Warray-bounds false positives on its vector resize); the warning is silenced here only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
  const Csr csr(boost::edges_are_sorted, ends.begin(), ends.end(), vertices);
#pragma GCC diagnostic pop
  const auto weight = boost::make_iterator_property_map(latency.begin(), boost::get(boost::edge_index, csr));
  std::vector<int64_t> from(vertices);
  for (TopologyVertex leaf = 0; leaf < vertices; ++leaf) {
    if (leaf_slot_[leaf] < 0) continue;
    const auto distance = boost::make_iterator_property_map(from.begin(), boost::get(boost::vertex_index, csr));
    boost::dijkstra_shortest_paths_no_color_map(csr, leaf, boost::distance_map(distance).weight_map(weight).distance_inf(kUnreachable));
    for (TopologyVertex v = 0; v < vertices; ++v) leaf_latency_[v * leaf_count_ + leaf_slot_[leaf]] = from[v];
  }
}

const Router::IslandGraphs& Router::island_graphs(int island) {
  IslandGraphs& graphs = *island_graphs_;
  if (graphs.island == island) return graphs;
  const auto& inside = island_vertices_[island];
  const auto& boundary = island_boundary_[island];
  const size_t n = inside.size();
  auto position = [&](TopologyVertex v) -> size_t {
    if (island_[v] == island) return island_position_[v];
    return n + (std::lower_bound(boundary.begin(), boundary.end(), v) - boundary.begin());
  };
  // Built in place: adjacency_list has no move assignment, and GCC 12 warns falsely on its copy.
  IslandGraph& whole = graphs.whole.emplace(n + boundary.size());
  // Every edge of the island and to its leaves, both ways: undirected links.
  for (TopologyVertex v : inside) {
    for (const Arc& arc : arcs(v)) {
      boost::add_edge(position(v), position(arc.to), arc.latency, whole);
      if (island_[arc.to] != island) boost::add_edge(position(arc.to), position(v), arc.latency, whole);
    }
  }
  for (size_t i = 0; i < boundary.size(); ++i) {
    for (size_t j = 0; j < boundary.size(); ++j) {
      const int64_t between = leaf_latency(boundary[i], leaf_slot_[boundary[j]]);
      if (i != j && between != kUnreachable) boost::add_edge(n + i, n + j, between, whole);
    }
  }
  IslandGraph& fabric = graphs.fabric.emplace(n);
  for (TopologyVertex v : inside) {
    if (!in_node_fabric(kind_[v])) continue;
    for (const Arc& arc : arcs(v)) {
      if (island_[arc.to] == island && in_node_fabric(kind_[arc.to])) boost::add_edge(position(v), position(arc.to), arc.latency, fabric);
    }
  }
  graphs.island = island;
  return graphs;
}

const Router::Destination& Router::destination(int gpu) {
  Destination& d = destinations_[gpu];
  if (d.island >= 0) return d;
  if (leaf_latency_.empty() && leaf_count_ > 0) compute_leaf_latencies();
  const TopologyVertex target = topology_.gpu_vertex[gpu];
  const int island = island_[target];
  const IslandGraphs& graphs = island_graphs(island);
  const size_t n = island_vertices_[island].size();
  const size_t from = island_position_[target];
  std::vector<int64_t> latency(boost::num_vertices(*graphs.whole));
  boost::dijkstra_shortest_paths(
      *graphs.whole, from,
      boost::distance_map(boost::make_iterator_property_map(latency.begin(), boost::get(boost::vertex_index, *graphs.whole)))
          .distance_inf(kUnreachable));
  d.inside.assign(latency.begin(), latency.begin() + static_cast<std::ptrdiff_t>(n));
  d.boundary.assign(latency.begin() + static_cast<std::ptrdiff_t>(n), latency.end());
  d.fabric.assign(n, kUnreachable);
  boost::dijkstra_shortest_paths(
      *graphs.fabric, from,
      boost::distance_map(boost::make_iterator_property_map(d.fabric.begin(), boost::get(boost::vertex_index, *graphs.fabric)))
          .distance_inf(kUnreachable));
  d.island = island;
  return d;
}

int64_t Router::latency_to(int gpu, TopologyVertex v) { return latency_to(destination(gpu), v); }

int64_t Router::latency_to(const Destination& d, TopologyVertex v) const {
  if (island_[v] == d.island) return d.inside[island_position_[v]];
  const int64_t* to_leaves = leaf_latency_.data() + v * leaf_count_;
  const std::vector<int>& slots = island_boundary_slots_[d.island];
  int64_t best = kUnreachable;
  for (size_t i = 0; i < slots.size(); ++i) {
    const int64_t to_leaf = to_leaves[slots[i]], from_leaf = d.boundary[i];
    if (to_leaf != kUnreachable && from_leaf != kUnreachable) best = std::min(best, to_leaf + from_leaf);
  }
  return best;
}

uint64_t Router::pair_key(int a, int b) const { return static_cast<uint64_t>(a) * topology_.gpu_vertex.size() + static_cast<uint64_t>(b); }

std::span<const RouteHop> Router::route(int a, int b) {
  const auto [it, fresh] = routes_.try_emplace(pair_key(a, b));
  if (fresh) {
    const Destination& to_b = destination(b);
    if (fabric_latency_to(to_b, topology_.gpu_vertex[a]) != kUnreachable) {
      walk(
          a, b, [&](TopologyVertex v) { return fabric_latency_to(to_b, v); }, hops_, false);
    } else {
      walk(
          a, b, [&](TopologyVertex v) { return latency_to(to_b, v); }, hops_, false);
    }
    it->second = store(hops_);
  }
  if (it->second.length == 0) return {};
  return {blocks_[it->second.block].data() + it->second.offset, it->second.length};
}

const Router::Table& Router::table(std::span<const int> gpus) {
  const auto [found, fresh] = tables_.try_emplace(std::vector<int>(gpus.begin(), gpus.end()));
  Table& t = found->second;
  if (!fresh) return t;
  const size_t n = gpus.size();
  if (n * n > std::numeric_limits<uint32_t>::max()) throw std::length_error("a set of GPUs too large to route as one table");
  // Every pair's route, destination by destination, kept only until the table is indexed.
  std::vector<RouteHop> hops;
  std::vector<size_t> route_at(n * n, 0), route_length(n * n, 0);
  latency_scratch_.resize(island_.size());
  latency_stamp_.resize(island_.size());
  next_memo_.resize(island_.size());
  next_stamp_.resize(island_.size());
  for (size_t to = 0; to < n; ++to) {
    const Destination& to_b = destination(gpus[to]);
    ++stamp_;  // forgets the last destination's latencies
    const auto latency = [&](TopologyVertex v) {
      if (latency_stamp_[v] != stamp_) {
        latency_stamp_[v] = stamp_;
        latency_scratch_[v] = latency_to(to_b, v);
      }
      return latency_scratch_[v];
    };
    for (size_t from = 0; from < n; ++from) {
      // Within the node, over its fabric; not remembered: those next hops need not be the
      // lowest-latency ones that the other sources' walks keep.
      if (fabric_latency_to(to_b, topology_.gpu_vertex[gpus[from]]) != kUnreachable) {
        walk(
            gpus[from], gpus[to], [&](TopologyVertex v) { return fabric_latency_to(to_b, v); }, hops_, false);
      } else {
        walk(gpus[from], gpus[to], latency, hops_, true);
      }
      route_at[from * n + to] = hops.size();
      route_length[from * n + to] = hops_.size();
      hops.insert(hops.end(), hops_.begin(), hops_.end());
    }
  }
  t.index_links(link_count(), hops, route_at, route_length);
  return t;
}

void Router::Table::index_links(size_t link_count, std::span<const RouteHop> hops, std::span<const size_t> route_at,
                                std::span<const size_t> route_length) {
  std::vector<size_t> crossing(link_count, 0);
  bool all_whole = true;
  for (const RouteHop& hop : hops) {
    ++crossing[hop.link];
    all_whole &= hop.share == 1.0;
  }
  std::vector<size_t> fill(link_count, 0);  // where a link's next pair goes
  pair_begin_.assign(1, 0);
  for (LinkId l = 0; l < link_count; ++l) {
    if (crossing[l] == 0) continue;
    fill[l] = pair_begin_.back();
    links_.push_back(l);
    pair_begin_.push_back(pair_begin_.back() + crossing[l]);
  }
  pairs_.resize(pair_begin_.back());
  shares_.assign(all_whole ? 0 : pairs_.size(), 0.0);
  for (size_t pair = 0; pair < route_at.size(); ++pair) {
    for (size_t h = route_at[pair]; h < route_at[pair] + route_length[pair]; ++h) {
      if (!all_whole) shares_[fill[hops[h].link]] = hops[h].share;
      pairs_[fill[hops[h].link]++] = static_cast<uint32_t>(pair);
    }
  }
  by_pairs_.resize(links_.size());
  for (uint32_t i = 0; i < by_pairs_.size(); ++i) by_pairs_[i] = i;
  std::stable_sort(by_pairs_.begin(), by_pairs_.end(),
                   [&](uint32_t a, uint32_t b) { return pair_begin_[a + 1] - pair_begin_[a] > pair_begin_[b + 1] - pair_begin_[b]; });
}

Router::RouteRef Router::store(std::span<const RouteHop> hops) {
  constexpr size_t kBlockHops = size_t{1} << 16;
  if (hops.empty()) return {};
  if (blocks_.empty() || blocks_.back().size() + hops.size() > blocks_.back().capacity()) {
    blocks_.emplace_back().reserve(std::max(kBlockHops, hops.size()));
  }
  auto& block = blocks_.back();
  const RouteRef ref{static_cast<uint32_t>(blocks_.size() - 1), static_cast<uint32_t>(block.size()), static_cast<uint32_t>(hops.size())};
  block.insert(block.end(), hops.begin(), hops.end());
  return ref;
}

template <class Latency>
std::span<const std::pair<Router::Arc, int64_t>> Router::next_hops(TopologyVertex v, int64_t to_target, Latency dist, bool remember) {
  if (remember && next_stamp_[v] == stamp_) return next_memo_[v];
  auto& next = walk_next_;
  next.clear();
  bool forwards = false;
  for (const Arc& arc : arcs(v)) {
    const int64_t from_u = dist(arc.to);
    if (from_u == kUnreachable || from_u + arc.latency != to_target) continue;
    next.emplace_back(arc, from_u);
    forwards |= kind_[v] == VertexKind::kGpu && kind_[arc.to] == VertexKind::kIntraSwitch;
  }
  if (forwards) std::erase_if(next, [&](const auto& hop) { return kind_[hop.first.to] != VertexKind::kIntraSwitch; });
  if (!remember) return next;
  next_stamp_[v] = stamp_;
  next_memo_[v].assign(next.begin(), next.end());
  return next_memo_[v];
}

template <class Latency>
void Router::walk(int a, int b, Latency dist, std::vector<RouteHop>& hops, bool remember) {
  hops.clear();
  const auto source = topology_.gpu_vertex[a], target = topology_.gpu_vertex[b];
  const int64_t from_source = a != b ? dist(source) : kUnreachable;
  if (from_source == kUnreachable) return;
  if (routing_ == FabricRouting::kEcmp) {
    // The hash sends all of the flow one way at each vertex, and every hop brings it strictly
    // nearer (every arc's latency is positive): a single path.
    const uint64_t flow_hash = mix(pair_key(a, b));
    TopologyVertex v = source;
    int64_t to_target = from_source;
    while (v != target) {
      const auto next = next_hops(v, to_target, dist, remember);
      const auto& [arc, from_u] = next[mix(flow_hash ^ v) % next.size()];
      hops.push_back({arc.link, 1.0});
      v = arc.to;
      to_target = from_u;
    }
    return;
  }
  // Adaptive: the whole shortest-path DAG, walked from the farthest vertex down, so that all of a
  // vertex's share has arrived before it is passed on.
  auto& queue = walk_queue_;
  auto& share = walk_share_;
  queue.assign(1, {from_source, source});
  share.assign(1, {source, 1.0});
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end());
    const auto [to_target, v] = queue.back();
    queue.pop_back();
    if (v == target) continue;
    double mass = 0;
    for (const auto& [u, m] : share) mass += u == v ? m : 0;
    const std::span<const std::pair<Arc, int64_t>> next = next_hops(v, to_target, dist, remember);
    const double each = mass / static_cast<double>(next.size());
    for (const auto& [arc, from_u] : next) {
      hops.push_back({arc.link, each});
      auto found = std::find_if(share.begin(), share.end(), [u = arc.to](const auto& s) { return s.first == u; });
      if (found == share.end()) {
        share.emplace_back(arc.to, each);
        queue.emplace_back(from_u, arc.to);
        std::push_heap(queue.begin(), queue.end());
      } else {
        found->second += each;
      }
    }
  }
}

}  // namespace moesim::hardware
