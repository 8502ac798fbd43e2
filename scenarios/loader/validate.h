#pragma once

#include "scenarios/loader/yaml_reader.h"
#include "scenarios/scenario.h"

namespace moesim::scenarios {

// Throws ScenarioError at a key's place in the sources when a condition fails.
class Checker {
 public:
  explicit Checker(const SourceMap& sources) : sources_(sources) {}
  void require(bool ok, const std::string& key, const std::string& message) const {
    if (!ok) throw ScenarioError(sources_.location(key), key, message);
  }

 private:
  const SourceMap& sources_;
};

// The degrees of parallelism against the GPUs, the model and the batch; the schedule against them;
// and whether each policy's share of the model fits in a GPU's memory (sim/step/memory_model.h).
void validate_parallelism(const Scenario& s, const Checker& c);

// The cluster's keys against each other (GPU counts, NICs, the fabric).
void validate_cluster(const hardware::ClusterSpec& cluster, const Checker& c);

// Checks that values agree with each other (parallelism vs GPU count, experts vs EP, ...).
// Throws ScenarioError naming the key whose value is inconsistent.
void validate(const Scenario& s, const SourceMap& sources);

}  // namespace moesim::scenarios
