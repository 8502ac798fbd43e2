// A sweep's points on disk: each in a directory of its own holding what `moesim run` writes, done
// once its scenario.yaml holds the point's resolved scenario; the combined table from their
// summary.csv files.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "results/sweep_outputs.h"
#include "scenarios/sweep.h"
#include "sim/sweep.h"

namespace moesim::results {

// Whether the point's directory holds a whole result of its resolved scenario.
bool point_done(const scenarios::SweepPoint& point);

// Runs points into their directories (locked while a point runs, so that two sweeps share them).
PointRunner directory_point_runner();

// The summary.csv text of each point that has a result, by point index.
std::map<int, std::string> point_summaries(const scenarios::Sweep& sweep, const std::vector<int>& points);

// The combined table from every point's summary.csv text. Throws std::runtime_error naming a
// point without a result or with an unreadable one.
SweepTable combined_table(const scenarios::Sweep& sweep, const std::map<int, std::string>& summaries);

}  // namespace moesim::results
