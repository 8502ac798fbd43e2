// Running a sweep's points: which ones this process takes (shards for job arrays, ranks under
// MPI) and running them on a pool of threads, skipping those already done. Where a point's result
// lives is the caller's (results/sweep_points.h keeps each in a directory of its own).
#pragma once

#include <functional>
#include <vector>

#include "scenarios/sweep.h"
#include "sim/worker_processes.h"

namespace moesim {

// The points (of `count`) that shard `shard` of `shards` (0-based), rank `rank` of `ranks` runs:
// every shards-th point from `shard`, and of those every ranks-th from `rank`.
std::vector<int> assigned_points(int count, int shard, int shards, int rank, int ranks);

// What becomes of one point: whether its result is already there, and running it to its result
// (false when someone else finished it meanwhile). Called from several threads at once.
struct PointRunner {
  std::function<bool(const scenarios::SweepPoint&)> done;
  std::function<bool(const scenarios::SweepPoint&)> run;
};

struct SweepRunStats {
  int ran = 0;
  int skipped = 0;  // already done
};

// Called after every point with (points done or skipped, points in total).
using SweepProgressFn = std::function<void(int done, int total)>;

// Runs `points` of the sweep on `jobs` threads; points already done are skipped. If a point
// fails, no new point starts and the first error is rethrown once the running ones finish.
// `progress` is called from one thread at a time.
SweepRunStats run_sweep_points(const scenarios::Sweep& sweep, const std::vector<int>& points, int jobs, const PointRunner& runner,
                               const SweepProgressFn& progress = nullptr);

// The same on `jobs` worker processes (for_each_in_processes(), which says what the caller must
// not do): a point's files are written by its worker, its errors reported through `report` and
// thrown here as WorkerFailure. Points share neither libhdf5's lock nor an address space, which on
// threads cost a 100-step point's sweep about a tenth of its parallel efficiency (bench/README.md).
SweepRunStats run_sweep_points_in_processes(const scenarios::Sweep& sweep, const std::vector<int>& points, int jobs,
                                            const PointRunner& runner, const SweepProgressFn& progress,
                                            const std::function<WorkerReport(std::exception_ptr)>& report);

}  // namespace moesim
