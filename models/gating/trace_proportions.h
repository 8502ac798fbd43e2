// A trace's expert-load proportions: each step's per-expert totals over their MoE layer's total.
#pragma once

#include <string>
#include <vector>

#include "models/gating/trace_h5.h"

namespace moesim::gating {

struct TraceProportions {
  TraceInfo info;
  std::vector<std::vector<float>> steps;  // [step][layer * experts + expert]; each layer sums to 1
};

// Throws TraceError (naming the file and dataset) for an unreadable trace or a layer of a step
// without tokens.
TraceProportions load_proportions(const std::string& path);

}  // namespace moesim::gating
