// A trace's expert-load proportions: each step's per-expert totals over their MoE layer's total.
#pragma once

#include <string>
#include <vector>

#include "models/gating/record_steps.h"
#include "models/gating/trace_h5.h"

namespace moesim::gating {

struct TraceProportions {
  TraceInfo info;
  std::vector<std::vector<float>> steps;  // [step][layer * experts + expert]; each layer sums to 1
};

// Throws TraceError (naming the file and dataset) for an unreadable trace or a layer of a step
// without tokens.
TraceProportions load_proportions(const std::string& path);

// A trace logged every `stride` training steps as one row per training step, from its first
// record to its last, filled in between as `between` says (the rows on records are the records).
// Leaves a trace of stride 1 as it is.
void expand_to_training_steps(TraceProportions& trace, Between between);

}  // namespace moesim::gating
