// Routes between GPUs over the topology graph: lowest total latency, and among equal-latency
// paths one chosen per (source, destination) by hashing at every hop, as ECMP switches do. The
// same pair always takes the same path (deterministic), different pairs spread over the spines.
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

class Router {
 public:
  explicit Router(const Topology& topology);

  size_t link_count() const { return capacity_.size(); }
  // Bytes per second a link carries in its direction, after protocol efficiency.
  double capacity(LinkId link) const { return capacity_[link]; }
  // The links from GPU `a` to GPU `b`, in order; empty for a == b or where no path exists.
  std::span<const LinkId> route(int a, int b);

 private:
  const std::vector<int64_t>& distances_to(int gpu);

  const Topology& topology_;
  std::vector<double> capacity_;
  std::vector<std::vector<int64_t>> distance_;  // [destination GPU][vertex], ps; empty until used
  std::vector<uint32_t> route_begin_;           // [a * gpus + b]: offset into route_links_, +1; 0: not yet
  std::vector<uint16_t> route_length_;
  std::vector<LinkId> route_links_;
};

}  // namespace moesim::hardware
