// nccl-tests' collective benchmarks (all_reduce_perf, alltoall_perf, ...) run on a simulated
// cluster, so that a user can set its figures beside their own measurements line by line.
//
// Each size is one collective alone on the network model. Sizes and bandwidths are nccl-tests'
// (doc/PERFORMANCE.md): `size` is a rank's buffer (the reduced one for all-reduce, the send buffer
// for all-to-all, the gathered one for all-gather, the one reduced then scattered for
// reduce-scatter); algbw = size / time; busbw = algbw x 2(n-1)/n for all-reduce and x (n-1)/n for
// the others, the rate a link of the bottleneck carries.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sim/base/units.h"
#include "sim/network/network_model.h"

namespace moesim::network {

enum class CollectiveOp { kAllReduce, kAllGather, kReduceScatter, kAllToAll };

struct CollectiveOpInfo {
  CollectiveOp op;
  std::string_view name;   // as `moesim bench collective --op` takes it
  std::string_view tool;   // the nccl-tests binary that measures it
  std::string_view redop;  // as nccl-tests prints it
  bool count_per_rank;     // nccl-tests prints elements per rank (size / n), not per buffer
};

std::span<const CollectiveOpInfo> collective_ops();
const CollectiveOpInfo* find_collective_op(std::string_view name);

// nccl-tests' size sweep (-b MIN -e MAX -f FACTOR): MIN, MIN x FACTOR, ... while at most MAX.
std::vector<int64_t> collective_sizes(int64_t min_bytes, int64_t max_bytes, double factor);

// algbw x this = busbw.
double bus_factor(CollectiveOp op, int ranks);

constexpr int kElementBytes = 4;  // nccl-tests' default type, float

struct CollectiveSample {
  int64_t bytes = 0;  // the size, in whole elements per rank
  int64_t count = 0;  // elements, as nccl-tests prints them
  Duration time;
  double algbw = 0, busbw = 0;  // GB/s (1e9 bytes per second, as nccl-tests)
};

// One sample per size over `gpus`; sizes that hold no element per rank are left out.
std::vector<CollectiveSample> bench_collective(NetworkModel& network, CollectiveOp op, std::span<const int> gpus,
                                               std::span<const int64_t> sizes);

}  // namespace moesim::network
