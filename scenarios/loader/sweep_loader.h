// Loads a sweep file: a base scenario plus `set`, `grid` and `zip` overrides, expanded into points
// that are each loaded and validated, so that any bad point is reported before anything runs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scenarios/errors.h"
#include "scenarios/sweep.h"

namespace moesim::scenarios {

// Every point is loaded and kept before anything runs; beyond this many, a sweep is refused.
constexpr int kMaxSweepPoints = 100000;

// `output_dir` replaces the file's output.dir. Points go to OUTPUT_DIR/points/NNNN. `overrides`
// ("key.path=value", from --set) apply to every point, after the file's `set` and before its
// axes. Throws ScenarioError for any bad input, naming the sweep file's line for a bad axis value.
// The points are resolved on up to `threads` threads (each scenario loaded and its resolved YAML
// emitted: about a millisecond a point); the error thrown is the first point's in order, whatever
// the threads.
Sweep load_sweep_file(const std::string& path, const std::optional<std::string>& output_dir = std::nullopt,
                      const std::vector<std::string>& overrides = {}, int threads = 1);

// Whether the file is a sweep file (it names a `base` scenario) rather than a scenario.
bool is_sweep_file(const std::string& path);

}  // namespace moesim::scenarios
