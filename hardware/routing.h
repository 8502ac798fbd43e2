// Routes between GPUs over the topology graph: lowest total latency; among equal-latency paths,
// with FabricRouting ecmp one chosen per (source, destination) by hashing at every hop (the same
// pair always takes the same path, different pairs spread over the spines but may collide), with
// adaptive the bytes split evenly at every hop over all of them. A GPU that can reach the
// destination as fast by forwarding over NVLink does so, onto the destination's rail (as NCCL's
// PXN does; multi-plane fabrics need it). Two GPUs that their node's own interconnect joins
// (NVLink, HCCS and the PCIe switch between HCCS groups) talk over it, never out through a NIC
// and back in, whatever the latencies: NCCL's peer-to-peer transport.
//
// Links are directed: graph edge `id` is link 2*id from its lower-numbered vertex to the higher
// one, and link 2*id+1 back.
//
// Latencies to a destination come from the fabric's shape rather than a search per GPU: a node's
// GPUs, NVLink switches and NICs (an "island": what is left connected once leaves and spines are
// taken out) meet the rest of the cluster only at the leaves their NICs plug into. So the latency
// from any vertex outside the island to a GPU in it is the least, over those leaves, of the
// vertex's latency to the leaf plus the leaf's to the GPU: one Dijkstra per leaf over the whole
// graph (leaves are fewer than GPUs by the nodes a leaf serves) and one per destination over its
// island, its leaves and the leaves' latencies between each other. Exact (integer picoseconds),
// so routes are the ones a Dijkstra per destination would give. Routes are kept per pair that
// asked for one (a hash map, not a GPU x GPU table) and per set of GPUs that exchange with each
// other (an all-to-all's: routed destination by destination, kept link by link as the pairs that
// cross each link, which is how a set's bytes are summed per link). Memory: a latency per
// (vertex, leaf), the routes asked for, and 4 bytes per hop of a set's routes. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "hardware/topology.h"

namespace moesim::hardware {

using LinkId = uint32_t;

// A link of a route and the share of the pair's bytes that crosses it (1 with ecmp).
struct RouteHop {
  LinkId link;
  double share;
};

class Router {
 public:
  Router(const Topology& topology, FabricRouting routing = FabricRouting::kEcmp);
  // Tables point into the router's blocks: it stays where it was built.
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;
  ~Router();

  size_t link_count() const { return capacity_.size(); }
  // Bytes per second a link carries in its direction, after protocol efficiency.
  double capacity(LinkId link) const { return capacity_[link]; }
  // The links from GPU `a` to GPU `b`, from the source on; empty for a == b or where no path
  // exists.
  std::span<const RouteHop> route(int a, int b);
  // Lowest latency from vertex `v` to GPU `gpu`, in picoseconds, each link counted at 1 ps at
  // least (as routes are chosen); kUnreachable where there is no path.
  int64_t latency_to(int gpu, TopologyVertex v);
  // Where a route's links are kept: a block of the router's and a run of it.
  struct RouteRef {
    uint32_t block = 0, offset = 0, length = 0;
  };
  // The routes between every ordered pair of a set of GPUs (the GPUs of an all-to-all), kept link
  // by link, for summing a set's bytes per link in one pass per link: the links some route
  // crosses, ascending; the pairs (from * size + to, by position in the set) whose routes cross
  // the i-th of them, ascending; and the shares of those pairs' bytes it carries, side by side
  // with them (empty where every share is 1, as under ecmp).
  class Table {
   public:
    std::span<const LinkId> links() const { return links_; }
    std::span<const uint32_t> pairs_across(size_t i) const { return {pairs_.data() + pair_begin_[i], pair_begin_[i + 1] - pair_begin_[i]}; }
    std::span<const double> shares_across(size_t i) const {
      if (shares_.empty()) return {};
      return {shares_.data() + pair_begin_[i], pair_begin_[i + 1] - pair_begin_[i]};
    }
    // Positions in links(), the links crossed by the most pairs first.
    std::span<const uint32_t> links_by_pairs() const { return by_pairs_; }

   private:
    friend class Router;
    // Fills the lists from every pair's route: route_length[p] hops of `hops` from route_at[p].
    void index_links(size_t link_count, std::span<const RouteHop> hops, std::span<const size_t> route_at,
                     std::span<const size_t> route_length);

    std::vector<LinkId> links_;
    std::vector<size_t> pair_begin_;  // by position in links_, and one past the last
    std::vector<uint32_t> pairs_;
    std::vector<double> shares_;
    std::vector<uint32_t> by_pairs_;
  };
  const Table& table(std::span<const int> gpus);

 private:
  // What a destination GPU's latencies need beyond the leaves': its island's and its leaves'.
  struct Destination {
    int island = -1;
    std::vector<int64_t> inside;    // by position in the island (island_position_)
    std::vector<int64_t> boundary;  // by position in the island's boundary leaves
    // By position in the island, over its node fabric only (topology.h: in_node_fabric):
    // kUnreachable for its NICs.
    std::vector<int64_t> fabric;
  };
  // Latency from `v` to the destination over its node fabric; kUnreachable outside it.
  int64_t fabric_latency_to(const Destination& d, TopologyVertex v) const {
    return island_[v] == d.island ? d.fabric[island_position_[v]] : kUnreachable;
  }
  const Destination& destination(int gpu);
  struct IslandGraphs;
  const IslandGraphs& island_graphs(int island);
  uint64_t pair_key(int a, int b) const;
  int64_t latency_to(const Destination& d, TopologyVertex v) const;
  // The route from `a` to `b` into `hops`, with `latency(v)` that of vertex v to `b`. With
  // `remember`, each vertex's equal-cost next hops are kept for the next walk to `b` (until
  // stamp_ changes): they do not depend on the source, only the hash's pick among them does.
  template <class Latency>
  void walk(int a, int b, Latency latency, std::vector<RouteHop>& hops, bool remember);
  // Keeps a route in the blocks, which never move once filled (no copy of all routes as a
  // growing array would make).
  RouteRef store(std::span<const RouteHop> hops);
  // Latency from vertex `v` to the leaf in slot `slot`.
  int64_t leaf_latency(TopologyVertex v, int slot) const { return leaf_latency_[v * leaf_count_ + slot]; }
  void compute_leaf_latencies();

  // A vertex's links in the graph's own order (the order ECMP's hash picks from): compact, as
  // walking routes reads them over and over.
  struct Arc {
    TopologyVertex to;
    int64_t latency;  // ps, at least 1
    LinkId link;      // directed, from this vertex
  };
  std::span<const Arc> arcs(TopologyVertex v) const { return {arcs_.data() + arc_begin_[v], arc_begin_[v + 1] - arc_begin_[v]}; }
  // The arcs out of `v` on a shortest path to the walk's target (`to_target` away), with their
  // heads' latency to it; with `remember`, kept for the next walk to the same target.
  template <class Latency>
  std::span<const std::pair<Arc, int64_t>> next_hops(TopologyVertex v, int64_t to_target, Latency latency, bool remember);

  const Topology& topology_;
  FabricRouting routing_;
  std::vector<double> capacity_;
  std::vector<Arc> arcs_;
  std::vector<size_t> arc_begin_;     // by vertex, and one past the last
  std::vector<VertexKind> kind_;      // by vertex
  std::vector<int> island_;           // by vertex; -1 for leaves and spines
  std::vector<int> island_position_;  // by vertex: its index in its island's vertex list
  std::vector<std::vector<TopologyVertex>> island_vertices_;
  std::vector<std::vector<TopologyVertex>> island_boundary_;  // leaves the island's NICs plug into
  std::vector<std::vector<int>> island_boundary_slots_;       // their slots, side by side
  std::vector<int> leaf_slot_;  // by vertex: leaves numbered in vertex order (a pod's are adjacent); -1 for others
  size_t leaf_count_ = 0;
  // [vertex * leaf_count_ + slot]: a vertex's latencies to all leaves side by side, so that those
  // to one island's leaves share a cache line. Filled on first use.
  std::vector<int64_t> leaf_latency_;
  std::vector<Destination> destinations_;  // by GPU; island -1 until computed
  std::unique_ptr<IslandGraphs> island_graphs_;
  std::unordered_map<uint64_t, RouteRef> routes_;  // route()'s, by pair
  std::map<std::vector<int>, Table> tables_;       // a pair in several sets is routed in each
  // route_all's latencies to its current destination, by vertex, valid where the stamp is stamp_.
  std::vector<int64_t> latency_scratch_;
  std::vector<uint64_t> latency_stamp_;
  uint64_t stamp_ = 0;
  std::vector<RouteHop> hops_;  // the route being worked out, and walk()'s scratch
  std::vector<std::pair<int64_t, TopologyVertex>> walk_queue_;
  std::vector<std::pair<TopologyVertex, double>> walk_share_;
  std::vector<std::pair<Arc, int64_t>> walk_next_;
  std::vector<std::vector<std::pair<Arc, int64_t>>> next_memo_;  // by vertex, valid where next_stamp_ is stamp_
  std::vector<uint64_t> next_stamp_;
  std::vector<std::vector<RouteHop>> blocks_;
};

}  // namespace moesim::hardware
