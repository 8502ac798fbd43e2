// Traces as CSV: a header `step,layer,expert,tokens`, then one row per count. Steps, MoE layers
// (numbered 0..L-1 over MoE layers only) and experts are dense from 0; missing cells are 0.
#pragma once

#include <string>

namespace moesim::gating {

// Converts a CSV trace into the HDF5 layout (expert_counts only). Throws TraceError naming the
// file and line for bad input; writes nothing on failure.
void convert_csv_trace(const std::string& csv_path, const std::string& h5_path);

}  // namespace moesim::gating
