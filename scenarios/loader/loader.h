// Loads a scenario YAML file into a validated Scenario. The only code that knows YAML.
#pragma once

#include <string>
#include <vector>

#include "scenarios/errors.h"
#include "scenarios/scenario.h"

namespace moesim::scenarios {

// `overrides` are "key.path=value" strings (from --set), applied before validation; a value is
// read as YAML, so "--set cluster.nodes=8" and "--set policies=[{placement: static}]" both work.
// Throws ScenarioError for any bad input.
Scenario load_scenario_file(const std::string& path, const std::vector<std::string>& overrides = {});

// A "key.path=value" override and where it came from, which errors about that key name.
struct Override {
  std::string text;
  std::string origin;  // e.g. "sweep.yaml:7:18"; "--set TEXT" when empty
};
Scenario load_scenario_file(const std::string& path, const std::vector<Override>& overrides);
// The same, from text; `origin` names it in messages.
Scenario load_scenario_text(const std::string& text, const std::string& origin, const std::vector<std::string>& overrides = {});

// The `cluster:` section (and `name:`) of a scenario or of a file that holds only those, read and
// checked as a scenario's; the file's other keys are not read. Throws ScenarioError.
struct ClusterFile {
  std::string name;
  hardware::ClusterSpec cluster;
};
ClusterFile load_cluster_file(const std::string& path, const std::vector<std::string>& overrides = {});

// A cluster file, every key explicit: load_cluster_file() reads it back to the same cluster, and
// its cluster: section may replace a scenario's.
std::string cluster_yaml(const std::string& name, const hardware::ClusterSpec& cluster);

// The fully resolved scenario (presets expanded, every field explicit) as YAML that loads back
// to the same Scenario.
std::string resolved_yaml(const Scenario& scenario);

// What differs between two scenarios, one "key.path: A -> B" per value, in key order; the name,
// seed and output directory are left out.
std::vector<std::string> differences(const Scenario& a, const Scenario& b);

}  // namespace moesim::scenarios
