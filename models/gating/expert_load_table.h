// Expert loads of one planning window, [MoE layer][expert], read from what a user has: a CSV
// `layer,expert,load` (a row per expert of each layer) or a trace's steps summed. The input of
// `moesim place`.
#pragma once

#include <string>
#include <vector>

namespace moesim::gating {

struct ExpertLoadTable {
  int layers = 0, experts = 0;
  std::vector<std::vector<double>> loads;  // [layer][expert]
  std::string source;                      // what it was read from, for a report
};

// A header `layer,expert,load`, then one row per (layer, expert): layers and experts numbered
// densely from 0, every pair given once, loads finite and non-negative (tokens, or any unit).
// Throws TraceError naming the file and the first bad line.
ExpertLoadTable read_expert_load_csv(const std::string& path);

// The expert counts of a trace's records logged at training steps [first, last), summed (last < 0:
// to its end; a trace of stride 1 from step 0 has a record per step). Throws TraceError.
ExpertLoadTable trace_expert_loads(const std::string& path, int first, int last);

}  // namespace moesim::gating
