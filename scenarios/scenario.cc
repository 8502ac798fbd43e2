#include "scenarios/scenario.h"

#include "policies/placement/registry.h"

namespace moesim::scenarios {

const char* to_string(ExpertExecution e) { return e == ExpertExecution::kDropless ? "dropless" : "capacity"; }

const char* to_string(Dedup d) { return d == Dedup::kNone ? "none" : d == Dedup::kGpu ? "gpu" : "node"; }

std::string_view PolicySpec::placement_name() const { return placement->name(); }

}  // namespace moesim::scenarios
