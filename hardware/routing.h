// Routes between GPUs over the topology graph: lowest total latency; among equal-latency paths,
// with FabricRouting ecmp one chosen per (source, destination) by hashing at every hop (the same
// pair always takes the same path, different pairs spread over the spines but may collide), with
// adaptive the bytes split evenly at every hop over all of them. A GPU that can reach the
// destination as fast by forwarding over NVLink does so, onto the destination's rail (as NCCL's
// PXN does; multi-plane fabrics need it).
//
// Links are directed: graph edge `id` is link 2*id from its lower-numbered vertex to the higher
// one, and link 2*id+1 back. Distances to a destination are computed on first use (one Dijkstra
// per destination GPU, O(V log V)) and routes are cached per pair: memory O(G^2 x hops), so the
// router serves clusters of up to a few thousand GPUs. Not thread-safe.
#pragma once

#include <cstdint>
#include <span>
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

  size_t link_count() const { return capacity_.size(); }
  // Bytes per second a link carries in its direction, after protocol efficiency.
  double capacity(LinkId link) const { return capacity_[link]; }
  // The links from GPU `a` to GPU `b`, from the source on; empty for a == b or where no path
  // exists.
  std::span<const RouteHop> route(int a, int b);

 private:
  const std::vector<int64_t>& distances_to(int gpu);

  const Topology& topology_;
  FabricRouting routing_;
  std::vector<double> capacity_;
  std::vector<std::vector<int64_t>> distance_;  // [destination GPU][vertex], ps; empty until used
  std::vector<uint32_t> route_begin_;           // [a * gpus + b]: offset into route_links_, +1; 0: not yet
  std::vector<uint32_t> route_length_;
  std::vector<RouteHop> route_links_;
};

}  // namespace moesim::hardware
