// Running a sweep's points: which ones this process takes (shards for job arrays, ranks under
// MPI), running them on a pool of threads, skipping those already done, and collecting the
// combined table from the points' results.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "scenarios/sweep.h"
#include "sim/results/sweep_outputs.h"

namespace moesim {

// The points (of `count`) that shard `shard` of `shards` (0-based), rank `rank` of `ranks` runs:
// every shards-th point from `shard`, and of those every ranks-th from `rank`.
std::vector<int> assigned_points(int count, int shard, int shards, int rank, int ranks);

// Whether the point's directory holds a whole result of its resolved scenario.
bool point_done(const scenarios::SweepPoint& point);

struct SweepRunStats {
  int ran = 0;
  int skipped = 0;  // already done
};

// Called after every point with (points done or skipped, points in total).
using SweepProgressFn = std::function<void(int done, int total)>;

// Runs `points` of the sweep on `jobs` threads, each point with the files of `moesim run`;
// points already done are skipped. If a point fails, no new point starts and the first error is
// rethrown once the running ones finish. `progress` is called from one thread at a time.
SweepRunStats run_sweep_points(const scenarios::Sweep& sweep, const std::vector<int>& points, int jobs,
                               const SweepProgressFn& progress = nullptr);

// The summary.csv text of each point that has a result, by point index.
std::map<int, std::string> point_summaries(const scenarios::Sweep& sweep, const std::vector<int>& points);

// The combined table from every point's summary.csv text. Throws std::runtime_error naming a
// point without a result or with an unreadable one.
results::SweepTable sweep_table(const scenarios::Sweep& sweep, const std::map<int, std::string>& summaries);

}  // namespace moesim
