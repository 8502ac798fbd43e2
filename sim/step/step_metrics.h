// What a simulated step measured: its time, each GPU's busy compute time, all-to-all and migration
// time and bytes, load imbalance, drops.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/base/large_buffer.h"
#include "sim/base/units.h"
#include "sim/step/executed_step.h"

namespace moesim {

struct StepResult {
  Duration step_time;
  std::vector<Duration> compute_busy;  // per GPU
  Duration all_to_all_time;            // sum over all-to-all phases of the slowest EP group
  Bytes a2a_intra_node;
  Bytes a2a_inter_node;
  double imbalance = 1;     // mean over MoE layers of max/mean expert tokens per GPU
  int64_t dropped = 0;      // token assignments dropped over capacity
  int64_t assignments = 0;  // token assignments routed (before drops)
  Bytes migration_bytes;    // expert state moved for this step's placement, all EP groups
  Duration migration_time;  // the slowest EP group's migration
  // Per GPU, averaged over GPUs: time one of its communication streams works while its compute
  // stream idles (exposed communication), and time both idle (pipeline bubble, waiting on other GPUs).
  // With compute_busy they add up to the step time.
  Duration exposed_comm;
  Duration bubble;

  bool operator==(const StepResult&) const = default;
};

// What record_times() works in, kept from step to step so that it allocates nothing once warm:
// every stream's task intervals, stream after stream.
struct MetricsBuffers {
  struct Interval {
    int64_t start, end;  // picoseconds
  };
  std::vector<uint32_t> stream_begin;  // [stream]: its first interval; one more entry ends the last
  uint64_t counted_shape = 0;          // the task graph's shape stream_begin was counted for
  std::vector<uint32_t> fill;
  LargeVector<Interval> intervals;  // every task on every stream it occupies: a million or more
  std::vector<int64_t> exposed;     // per lane
  std::vector<Interval> comm;       // a lane's two communication streams' intervals, merged
};

// Reads the times of `step`'s finished tasks into `result`: the step time, all-to-all time (the
// slowest EP group's, summed over the all-to-alls of the stage where that is longest), migration
// time, each GPU's busy compute time, its exposed communication and its idle time.
void record_times(const ExecutedStep& step, StepResult& result, MetricsBuffers& buffers);

}  // namespace moesim
