// A parameter sweep as plain structs: a base scenario and axes of overrides, expanded into
// points, each a resolved scenario. What the sweep loader produces and the sweep runner consumes.
#pragma once

#include <string>
#include <vector>

#include "scenarios/scenario.h"

namespace moesim::scenarios {

// One swept key: `grid` axes multiply, `zip` axes advance together.
struct SweepAxis {
  std::string key;                  // a key path, as with --set
  std::vector<std::string> values;  // each a YAML value, as text ("8", "[{placement: static}]")
  bool zipped = false;              // a `zip` axis
};

struct SweepPoint {
  int index = 0;
  std::vector<std::string> values;  // one per axis of Sweep::axes
  Scenario scenario;                // validated; output_dir is the point's own directory
  std::string resolved_yaml;        // the scenario as its scenario.yaml holds it
};

struct Sweep {
  std::string name;
  std::string source_file;
  std::string base;                // the base scenario's path
  std::vector<SweepAxis> axes;     // grid axes in file order, then zip axes
  std::vector<SweepPoint> points;  // grid axes vary slowest first, the zip axes together fastest
  std::string output_dir;
};

}  // namespace moesim::scenarios
