// Test helper: the traffic of a uniform all-to-all among GPUs 0..gpus-1.
#pragma once

#include <numeric>
#include <vector>

#include "sim/network/traffic_matrix.h"

namespace moesim::network {

inline TrafficMatrix uniform_traffic(int gpus, double bytes_to_each_peer) {
  std::vector<int> ids(gpus);
  std::iota(ids.begin(), ids.end(), 0);
  TrafficMatrix t(ids);
  for (int s = 0; s < gpus; ++s)
    for (int d = 0; d < gpus; ++d) t.at(s, d) = s == d ? 0 : bytes_to_each_peer;
  return t;
}

}  // namespace moesim::network
